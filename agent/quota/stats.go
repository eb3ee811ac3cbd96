package quota

// Outcome is what happened to a request that reached a limit.
type Outcome string

// The outcomes counted per limit.
const (
	Refused   Outcome = "refused"   // not served (429, 402, 403, 408, 507)
	Throttled Outcome = "throttled" // served after a delay
	Overaged  Outcome = "overage"   // served beyond the limit, metered as overage
	Warned    Outcome = "warned"    // served beyond the limit with a warning
)

const (
	numLimits   = 10
	numOutcomes = 4
)

var allLimits = [numLimits]Limit{RequestsPerSecond, APICallsPerHour, APICallsPerDay, ConcurrentConnections,
	MaxQueryDuration, MaxCollections, MaxDocumentsPerCollection, StorageBytes, Suspended, Deleted}

var allOutcomes = [numOutcomes]Outcome{Refused, Throttled, Overaged, Warned}

func limitIndex(l Limit) int {
	for i, x := range allLimits {
		if x == l {
			return i
		}
	}
	return -1
}

// count records d when it reached a limit.
func (e *Enforcer) count(d Decision) {
	i := limitIndex(d.Limit)
	if i < 0 {
		return
	}
	var o int
	switch {
	case !d.Allow:
		o = 0
	case d.Delay > 0 || (!d.Overage && !d.Warn):
		o = 1
	case d.Overage:
		o = 2
	default:
		o = 3
	}
	e.counts[i][o].Add(1)
}

// Key identifies one counter of Stats.
type Key struct {
	Limit   Limit
	Outcome Outcome
}

// Stats returns the number of requests that reached each limit, by
// outcome, since the Enforcer was made (non-zero counters only). It is
// what the agent exports as metrics (the warn action's metric).
func (e *Enforcer) Stats() map[Key]int64 {
	out := make(map[Key]int64)
	for i, l := range allLimits {
		for j, o := range allOutcomes {
			if n := e.counts[i][j].Load(); n > 0 {
				out[Key{l, o}] = n
			}
		}
	}
	return out
}
