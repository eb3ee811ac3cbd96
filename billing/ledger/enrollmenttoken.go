package ledger

import (
	"encoding/hex"
)

// KindIssueEnrollmentToken is IssueEnrollmentToken's kind. Like
// KindSetClusterCA its value is set apart from the run of kinds in
// command.go so that kinds added there never shift it (values are part of
// the replicated log format).
const KindIssueEnrollmentToken Kind = 73

// MaxClusterTokens bounds the enrollment tokens a cluster holds at once:
// past it a new one must revoke the others (RevokePrevious).
const MaxClusterTokens = 8

// Kind returns KindIssueEnrollmentToken.
func (IssueEnrollmentToken) Kind() Kind { return KindIssueEnrollmentToken }

// IssueEnrollmentToken gives a registered cluster another enrollment
// token, for a cluster whose token was lost (its operator's Secret was
// deleted) or leaked. The proposer passes the SHA-256 of the new token.
// The earlier tokens keep authenticating unless RevokePrevious: running
// nodes still hold them and report usage with them, so a lost token is
// replaced without cutting them off, and a leaked one is revoked once the
// nodes have the new one. Re-proposing the same command is Unchanged
// (idempotent retry). Errors: ErrNotFound for an unknown cluster,
// ErrState for a deregistered one or one holding MaxClusterTokens tokens
// without RevokePrevious, ErrConflict when the hash is another
// credential's.
type IssueEnrollmentToken struct {
	Header
	ClusterID      string
	TokenHash      [32]byte
	RevokePrevious bool
}

func (c IssueEnrollmentToken) encode(e *encoder) {
	e.str(c.ClusterID)
	e.fixed32(c.TokenHash)
	e.bool1(c.RevokePrevious)
}

func decodeIssueEnrollmentToken(h Header, d *decoder) Command {
	return IssueEnrollmentToken{h, d.str(), d.fixed32(), d.bool1()}
}

// tokenHashes are the hex SHA-256 of every enrollment token of cl.
func (cl *Cluster) tokenHashes() []string {
	return append([]string{cl.TokenSHA256}, cl.ExtraTokenSHA256...)
}

func (a *applier) issueEnrollmentToken(c IssueEnrollmentToken) Result {
	if c.TokenHash == ([32]byte{}) {
		return Result{Err: invalidf("token_hash: required (SHA-256 of the enrollment token)")}
	}
	cl, e := a.loadCluster(c.ClusterID)
	if e != nil {
		return Result{Err: e}
	}
	if cl.DeregisteredAt != nil {
		return Result{Err: statef("cluster %q was deregistered; register a new cluster instead", cl.ID)}
	}
	hash := hex.EncodeToString(c.TokenHash[:])
	if id := get(a.tx, bTokens, c.TokenHash[:]); id != nil {
		if string(id) == cl.ID && (!c.RevokePrevious || len(cl.ExtraTokenSHA256) == 0 && cl.TokenSHA256 == hash) {
			return Result{Unchanged: true, Cluster: cl}
		}
		return Result{Err: conflictf("token_hash: already used by cluster %q", id)}
	}
	if get(a.tx, bAPIKeyHashes, c.TokenHash[:]) != nil {
		return Result{Err: conflictf("token_hash: already used by a billing api key")}
	}
	if !c.RevokePrevious && len(cl.tokenHashes()) >= MaxClusterTokens {
		return Result{Err: statef("cluster %q already holds %d enrollment tokens (the limit); issue one that revokes the previous ones", cl.ID, MaxClusterTokens)}
	}
	if c.RevokePrevious {
		for _, old := range cl.tokenHashes() {
			if b, err := hex.DecodeString(old); err == nil && len(b) == 32 {
				del(a.tx, bTokens, b)
			}
		}
		cl.TokenSHA256, cl.ExtraTokenSHA256 = hash, nil
	} else {
		cl.ExtraTokenSHA256 = append(cl.ExtraTokenSHA256, hash)
	}
	putJSON(a.tx, bClusters, []byte(cl.ID), cl)
	put(a.tx, bTokens, c.TokenHash[:], []byte(cl.ID))
	details := map[string]string{"revoked_previous": "false", "tokens": itoa(len(cl.tokenHashes()))}
	if c.RevokePrevious {
		details["revoked_previous"] = "true"
	}
	for _, t := range cl.Tenants {
		a.audit(t, "cluster", cl.ID, "cluster.token_issued", details)
	}
	return Result{Cluster: cl}
}
