// Package httpapi is the node agent's HTTP data API: routing, strict request
// decoding, authentication and role checks, quota enforcement and metering
// of tenant requests, translation of errors to {"error":{"code","message"}}
// answers, request metrics, tenant API key management and the health,
// readiness, stats and cluster endpoints.
//
// # Principals
//
// Every /api/v1 route declares the role it needs (see Server.table): read
// for reading documents, readwrite for writing them, admin for the tenant's
// collections, indexes and keys;
// /health, /readyz and /api/v1/cluster/self are open. Handlers use the
// authenticated Principal's tenant as the document tenant and never read a
// tenant from the request. /metrics needs RoleRead unless
// Config.MetricsNoAuth.
//
// The cluster admin is a principal of auth.AdminKey or auth.Insecure (KeyID
// auth.AdminKeyID or auth.InsecureKeyID); every other principal is a tenant
// key. Cluster membership (POST /api/v1/cluster/members, DELETE
// /api/v1/cluster/members/{id}) is the cluster admin's only: a tenant key is
// refused 403 whatever its role. /api/v1/cluster shows a tenant key the
// client endpoints only (each node's HTTP address, which one leads, whether
// this node is ready) and /api/v1/stats its own tenant's figures without
// the store's or the node's request figures: raft addresses, terms,
// indexes and members are the cluster admin's. With Config.Managed,
// /metrics is the cluster admin's only as well. With Config.Managed the cluster admin is also
// refused (403 permission_denied, "use a tenant key") on every data route
// (documents, collections, indexes, queries, batches): its principal's
// tenant, auth.DefaultTenant, is none billing knows, so its data would be
// neither governed nor metered. Unmanaged, it reaches that tenant's data.
// No metric carries a tenant label (request
// metrics are labelled by route pattern, aerolith_quota_warnings_total by
// limit).
//
// # API keys
//
// POST /api/v1/keys {"tenant","role","name"} → 201 {"id","tenant","role",
// "name","created_at","key"} (the key string is shown once);
// GET /api/v1/keys?tenant=T → {"keys":[...]} (no secrets, no hashes);
// DELETE /api/v1/keys/{id} → 200 with the revoked key, once no node of the
// cluster accepts it any more (see agent/tenancy). They need role admin.
// The cluster admin manages any tenant's keys. A tenant's admin key manages
// its own tenant's keys only: naming another tenant is 403, and revoking a
// key of another tenant is 404, exactly as for a key that does not exist,
// so it learns nothing of other tenants. Without Config.Keys the routes
// answer 404 "not_managed". A creation the Keys cannot serve yet because
// the agent has not enrolled with billing (ErrNotEnrolled) answers 503
// "not_ready" with Retry-After.
//
// # Quotas
//
// With Config.Governor, each request of a tenant key (the cluster admin is
// never governed) is checked against the tenant's quota.Enforcer before it
// is served: Enforcer.Request (status and rate limits; writes are the routes
// that change data), then Enforcer.Acquire (concurrent requests, released
// when the answer is written). Queries run under Enforcer.QueryContext.
// Decisions map to answers:
//
//	refused by a rate limit or concurrency  429 quota_exceeded, Retry-After in seconds (rounded up)
//	write of a suspended tenant             402 payment_required (the message names the unpaid invoice)
//	any request of a deleted tenant         403 permission_denied
//	query past max_query_duration           408 query_timeout
//	storage limit (agent/document)          507 storage_quota_exceeded, no Retry-After
//	collections, documents (agent/document) 429 quota_exceeded, no Retry-After (waiting does not help)
//	throttle                                the request waits the Decision's Delay (or until the client leaves)
//	allow_with_overage                      served and metered as usual (billing rates overage from the totals)
//	warn                                    served; a warning log line and aerolith_quota_warnings_total{limit}
//
// A request served past a limit (overage or warn, from the enforcer or
// from document.Result.Exceeded) carries the header Aerolith-Quota-Warning
// listing the limits, e.g. "storage_bytes, max_documents_per_collection".
//
// Storage, collection and document limits are enforced by the document
// state machine (deterministically, on every replica), not here; this
// package maps their errors. A query past max_query_duration is answered
// 408 at the limit: the document layer cannot interrupt its bolt scan, so
// the scan finishes in the background and its result is discarded; a query
// that ends after the limit is answered 408 too.
//
// When the Governor reports policy.ErrNoPolicy (the node never obtained
// the tenant's policy from billing), reads, queries and the meta routes are
// served without enforcement and writes answer 503 no_policy. Any other
// Governor error answers 503 unavailable and is logged.
//
// # Metering
//
// With Config.Meter, a request of a tenant key is metered iff it was
// admitted (authenticated, authorized, not refused by a quota) and executed
// with an answer below 500: a request refused by a quota (402, 403 deleted,
// 408, 429, 507, 503 no_policy) or failed by the node (5xx) is not
// metered; other client errors (400, 404, 409, 412, ...) are. A metered
// request is one Meter.Record of the caller's tenant with:
//
//	reads     1 for a document GET or HEAD and for each list call (documents, collections, indexes)
//	writes    1 for a document put (PUT, POST) or delete, a collection drop, an index creation or drop;
//	          a batch counts 1 per operation it carries (1 if its body could not be decoded)
//	queries   1 per query call
//	QueryComputeMs  the wall time of the query's execution in ms, rounded up
//	ingress   the request body bytes read
//	egress    the response body bytes (0 for HEAD)
//
// The meta routes (stats, cluster, metrics, keys) count no read, write or
// query, only their bytes. Requests of the cluster admin are not metered.
//
// Record is called before any byte of the answer is written (the answer is
// buffered), so a request is answered only once its usage is recorded.
// A write is applied before its usage can be recorded, so a write is
// admitted only while Meter.Ready says the meter can record (a full disk
// makes it refuse): otherwise it is refused, before it is applied, with
// 503 unavailable and Retry-After, unmetered ("nothing was applied"). The
// usage of a write that was applied and succeeded goes through
// Meter.RecordApplied: should the journal fail after admission, the usage
// is kept and the answer waits until it is recorded (the write is then
// answered as usual) or the client goes away (the usage is recorded later
// all the same). So no applied write goes unbilled. When Record fails for
// anything else (a read, a write that failed) the buffered answer is
// dropped and the client gets 503 unavailable (logged): a read's answer is
// withheld; answering it would serve an operation billing never hears of.
// When RecordApplied gives up (the meter closing, the client gone) the
// answer is 503 saying the write was applied (like a leader change during
// commit: read it back before retrying).
package httpapi
