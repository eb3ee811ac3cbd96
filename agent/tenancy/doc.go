// Package tenancy keeps what makes a cluster multi-tenant in its replicated
// state: each tenant's signed billing policy and the tenants' API keys. A
// StateMachine applies the commands (SetPolicy, CreateKey, RevokeKey) the
// agent's dispatcher routes to it (first byte CommandTag); reads work in any
// bbolt transaction, so every node answers from its own applied state.
//
// # API keys
//
// A key string is "ak_<id>_<secret>": the prefix KeyPrefix, the id (16
// lowercase hex digits, 64 random bits, public: it is the Principal's KeyID
// and safe to log), '_', and the secret (43 base64url characters, 256
// random bits). NewKey makes one; ParseKey takes one apart strictly. Only
// SHA-256 of the secret is stored (APIKey.Hash, never in the key's JSON),
// with the id, tenant, role (read, readwrite, admin), name and creation time;
// the key string is shown to its user once and cannot be recovered.
//
// A key reaches one tenant only: the Authenticator returns a Principal whose
// Tenant is the key's, whatever the request says, and the HTTP layer uses
// only that tenant.
//
// A key works on every node as soon as its creation is acknowledged: a
// well-formed key whose id a node does not know yet is looked up again
// after a read barrier that makes the node apply everything the leader
// committed (one barrier in flight per node, shared by all such requests;
// see Authenticator).
//
// # Revocation
//
// A key is refused once either path revokes it:
//   - raft: a RevokeKey command (Keys.Revoke). Keys.Revoke returns once no
//     node accepts the key: every member confirmed it applied the entry
//     (store AwaitApplied), or Lease plus a margin passed since the commit
//     for members that did not. The Authenticator reads a key generation,
//     which each key command advances, so nothing it cached outlives a
//     revocation; with UseLease it trusts its node's applied state for at
//     most Lease after a catch-up round (a linearizable read barrier)
//     started, so a member that did not confirm (stopped, partitioned,
//     restarting) catches up before it accepts a tenant key again.
//   - billing: a key id listed in the tenant's policy (RevokedAgentKeys).
//     The first node's policy fetcher that obtains the policy saves it
//     through raft (PolicyStore.Save, which waits the same way), and every
//     node's StateMachine hands it to OnPolicy as it applies it;
//     NewAuthenticator's revoked function consults the policy in force.
//     A suspension (a policy with status suspended) takes the same path.
//
// Revoking is idempotent: the first revocation time is kept. Refusals say
// "api key revoked" (only once the secret matched) and never name a tenant.
//
// # Policies
//
// SetPolicy carries the policy exactly as billing signed it, so every node
// can verify it again; the state machine keeps a tenant's policy only when
// its version is higher than the stored one's, so replays and concurrent
// saves by several nodes' fetchers converge. NewPolicyStore makes this the
// policy.Fetcher's Store; Limits derives from the stored policy the storage
// limits agent/document enforces inside Apply (deterministically, on every
// replica).
//
// # Buckets
//
// Everything lives under the top-level bucket "_tenancy", apart from every
// tenant's documents: "_tenancy/policies" (tenant → signed and decoded
// policy), "_tenancy/limits" (tenant → the document.Limits derived from it,
// compact), "_tenancy/keys" (key id → key record with the secret's hash) and
// the key "_tenancy/key_generation".
package tenancy
