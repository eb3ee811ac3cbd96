package agent

import (
	"context"
	"log/slog"

	"github.com/aerolithdb/aerolith/agent/config"
	"github.com/aerolithdb/aerolith/internal/audit"
	"github.com/aerolithdb/aerolith/store"
)

// openAuditLog opens the audit log of cfg (nil when --audit-log off). The
// admin key and enrollment token are given to the writer as secrets, so
// they are redacted wherever they might appear.
func openAuditLog(ctx context.Context, cfg config.Config, log *slog.Logger) (*audit.Writer, error) {
	path := cfg.AuditPath()
	if path == "" {
		log.Warn("audit log is off (--audit-log off): key, membership and policy changes and refused credentials are not recorded")
		return nil, nil
	}
	return audit.OpenFile(ctx, path, cfg.AuditHMACKeyFile, []string{cfg.AdminKey, cfg.EnrollmentToken}, log)
}

// membershipAuditor is the store's OnMembership hook: each change this node
// made (as leader) or learned of is recorded as membership.<kind> (joined,
// addr_changed, promoted, removed, bootstrap, removed_self; see
// store.MembershipEvent) with this node as actor.
func membershipAuditor(a audit.Auditor, nodeID string, log *slog.Logger) func(store.MembershipEvent) {
	return func(ev store.MembershipEvent) {
		action := "membership." + ev.Kind
		d := map[string]string{}
		if ev.RaftAddr != "" {
			d["raft_addr"] = ev.RaftAddr
		}
		if ev.Detail != "" {
			d["detail"] = ev.Detail
		}
		e := audit.Event{Actor: audit.Actor{Kind: "node", Node: nodeID}, Action: action, Target: "node:" + ev.Member, Outcome: audit.OutcomeOK, Detail: d}
		if err := a.Append(context.Background(), e); err != nil {
			log.Warn("audit record failed", "action", action, "err", err)
		}
	}
}

// recordLifecycle records the node starting or stopping (detail: pairs of
// key and value).
func recordLifecycle(ctx context.Context, a audit.Auditor, action, nodeID string, log *slog.Logger, kv ...string) {
	d := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		d[kv[i]] = kv[i+1]
	}
	e := audit.Event{Actor: audit.Actor{Kind: "node", Node: nodeID}, Action: action, Target: "node:" + nodeID, Outcome: audit.OutcomeOK, Detail: d}
	if err := a.Append(ctx, e); err != nil {
		log.Warn("audit record failed", "action", action, "err", err)
	}
}
