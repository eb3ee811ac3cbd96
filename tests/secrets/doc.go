// Package secrets holds the secrets-hygiene suite: a billing replica and a
// managed agent, in process, driven through key creation, wrong, revoked
// and misplaced credentials, enrollment and bad bodies, after which no
// secret (admin keys, tenant API keys, billing read keys, the enrollment
// token) may appear in their logs, audit logs, error bodies or /metrics;
// and `aerolith audit verify` (the real binary) accepts the audit logs and
// names an edited line.
package secrets
