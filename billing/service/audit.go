package service

import (
	"context"

	"github.com/aerolithdb/aerolith/internal/audit"
	"github.com/aerolithdb/aerolith/store"
)

// openAuditLog opens the replica's audit log (nil with --audit-log off).
// The admin keys are given to the writer as secrets, so they are redacted
// wherever they might appear.
func (s *Service) openAuditLog(ctx context.Context, nodeID string) (*audit.Writer, error) {
	path := s.cfg.AuditPath()
	if path == "" {
		s.log.Warn("audit log is off (--audit-log off): tenant, key, cluster and invoice changes and refused credentials are not recorded")
		return nil, nil
	}
	return audit.OpenFile(ctx, path, s.cfg.AuditHMACKeyFile, s.cfg.AdminKeys, s.log.With("node_id", nodeID))
}

// record appends a lifecycle event of this replica (detail: pairs of key
// and value).
func (s *Service) record(ctx context.Context, action, nodeID string, kv ...string) {
	d := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		d[kv[i]] = kv[i+1]
	}
	s.append(ctx, audit.Event{Actor: audit.Actor{Kind: "node", Node: nodeID}, Action: action, Target: "node:" + nodeID, Outcome: audit.OutcomeOK, Detail: d})
}

func (s *Service) append(ctx context.Context, e audit.Event) {
	if err := s.audit.Append(ctx, e); err != nil {
		s.log.Warn("audit record failed", "action", e.Action, "err", err)
	}
}

// membershipAudit is the store's OnMembership hook: replica set changes
// are recorded as membership.<kind> with this replica as actor.
func (s *Service) membershipAudit(nodeID string) func(store.MembershipEvent) {
	return func(ev store.MembershipEvent) {
		d := map[string]string{}
		if ev.RaftAddr != "" {
			d["raft_addr"] = ev.RaftAddr
		}
		if ev.Detail != "" {
			d["detail"] = ev.Detail
		}
		s.append(context.Background(), audit.Event{Actor: audit.Actor{Kind: "node", Node: nodeID}, Action: "membership." + ev.Kind,
			Target: "node:" + ev.Member, Outcome: audit.OutcomeOK, Detail: d})
	}
}
