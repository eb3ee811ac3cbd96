// Package contract is what crosses the boundary between the billing service
// and its clients (agents, the CLI, provisioners): the signed tenant policy
// and its signing and verification, tenant status, quota actions, tier
// limits as a policy carries them, usage records and ingest results, and
// the JSON bodies of billing's API (tenants, invoices, payments, clusters,
// nodes, usage series).
//
// The package has no storage dependency and imports nothing of Aerolith, so
// a client links it without the ledger's state machine or bbolt. The types
// here are wire types: the ledger keeps its own stored types and maps them
// to these, and the agent stores its own policy type (agent/tenancy), so a
// change here changes the API, never a data directory. Field names and JSON
// names are the API: change them only with a new API version.
package contract
