// Package quota enforces a tenant's tier limits on one agent node: request
// rate and API calls per hour and per day (token buckets), concurrent
// requests, query duration, collection and document counts, and storage
// bytes. It turns each check into a Decision that the data API maps to an
// HTTP answer; it does no I/O and knows nothing of HTTP routing.
//
// # Actions
//
// A tier's quota action says what happens when a limit is reached:
//
//	block               refuse: 429 with Retry-After (507 for storage)
//	throttle            rate limits: delay the request until a token is due,
//	                    at most Config.MaxDelay, else refuse like block;
//	                    concurrency: wait for a slot at most MaxDelay;
//	                    counts and storage cannot drain by waiting, so they
//	                    are refused like block
//	allow_with_overage  serve and mark the Decision Overage (metered as such)
//	warn                serve and mark the Decision Warn with a message
//
// The query duration limit is a protection of the node, not a billable
// quantity: under every action the query's context is cancelled at
// MaxQueryDuration (QueryContext) and QueryExceeded gives the answer.
//
// A suspended tenant may read; every write is refused with 402 and a
// message pointing at its unpaid invoice, whatever the action. A deleted
// tenant is refused everything with 403.
//
// # Sharing cluster-wide limits among nodes
//
// RequestsPerSecond, APICallsPerHour, APICallsPerDay and
// ConcurrentConnections are cluster-wide. Each of the N live nodes enforces
// its share without coordination: a rate limit L per period P becomes a
// bucket of rate L/N per P and burst L/N on every node (the concurrency
// limit becomes ceil(L/N) slots). SetNodes changes N when membership
// changes; the tokens a node owes are rescaled to the new rate, so a
// rebalance neither grants a fresh burst nor forgets recent use.
//
// Error bound: when every node knows the same N, the cluster admits at most
// L/P×t + L requests over any interval t (the sum of the per-node bounds
// below), and at least that much is admitted only if the load is spread
// evenly: a client that talks to one node gets at most 1/N of the limit
// (the limit is under-, never over-enforced by skew). While membership
// changes, nodes may briefly disagree on N: with k nodes still counting a
// departed node, the cluster admits less (down to (N-k)/N of L); a node that
// joined before the others learnt of it adds at most L/N for that time. The
// concurrency split admits at most N-1 requests more than L in total.
//
// Each bucket is a GCRA (generic cell rate algorithm) with integer
// nanoseconds: the emission interval P×N/L is rounded up, so a bucket never
// admits more than rate×t + burst over any interval t (see the property
// test).
//
// # Concurrency
//
// An Enforcer is safe for concurrent use. The rate check takes one mutex
// and does integer arithmetic only; see the benchmarks.
package quota
