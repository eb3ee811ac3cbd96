package ledger

// KindRegisterOwnedCluster is RegisterOwnedCluster's kind. Like
// KindSetClusterCA its value is set apart from the run of kinds in
// command.go so that kinds added there never shift it (values are part of
// the replicated log format).
const KindRegisterOwnedCluster Kind = 72

// Kind returns KindRegisterOwnedCluster.
func (RegisterOwnedCluster) Kind() Kind { return KindRegisterOwnedCluster }

// RegisterOwnedCluster registers a cluster that a tenant registers for
// itself with one of its billing keys (role APIKeyRoleTenant): the cluster
// serves Owner and records it as its owner (Cluster.Owner), which is what
// lets that tenant's keys read, scale and deregister it and nothing else.
// It is RegisterCluster otherwise: the proposer passes the SHA-256 of the
// enrollment token; re-proposing it returns the cluster (idempotent
// retry); a different registration with the same id or token hash is
// ErrConflict. Owner must be a live tenant (ErrInvalid otherwise, as for
// RegisterCluster's tenants).
type RegisterOwnedCluster struct {
	Header
	ClusterID string
	Owner     string
	TokenHash [32]byte
}

func (c RegisterOwnedCluster) encode(e *encoder) {
	e.str(c.ClusterID)
	e.str(c.Owner)
	e.fixed32(c.TokenHash)
}

func decodeRegisterOwnedCluster(h Header, d *decoder) Command {
	return RegisterOwnedCluster{h, d.str(), d.str(), d.fixed32()}
}

func (a *applier) registerOwnedCluster(c RegisterOwnedCluster) Result {
	if e := checkID("owner", c.Owner); e != nil {
		return Result{Err: e}
	}
	return a.register(RegisterCluster{Header: c.Header, ClusterID: c.ClusterID, Tenants: []string{c.Owner}, TokenHash: c.TokenHash}, c.Owner)
}
