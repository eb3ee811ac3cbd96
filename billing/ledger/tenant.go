package ledger

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
)

// truncSec truncates t to whole Unix seconds.
func truncSec(t time.Time) time.Time { return time.Unix(t.Unix(), 0).UTC() }

// firstPeriodStart is where a tenant's first invoice period starts.
func firstPeriodStart(t *Tenant) time.Time { return truncSec(t.CreatedAt) }

// nextPeriodStart is where a tenant's next invoice period starts.
func nextPeriodStart(t *Tenant) time.Time {
	if t.BilledThrough.IsZero() {
		return firstPeriodStart(t)
	}
	return t.BilledThrough
}

// billableEnd is the end of a deleted tenant's billing (zero while not
// deleted).
func billableEnd(t *Tenant) time.Time {
	if t.Status != StatusDeleted {
		return time.Time{}
	}
	return truncSec(t.DeletedAt)
}

// liveTenant loads a tenant that is not deleted.
func (a *applier) liveTenant(field, id string) (*Tenant, *Error) {
	if e := checkID(field, id); e != nil {
		return nil, e
	}
	t, e := loadTenant(a.tx, id)
	if e != nil {
		return nil, e
	}
	if len(t.TierHistory) == 0 {
		return nil, internalf("tenant %q has no tier history", id)
	}
	if t.Status == StatusDeleted {
		return nil, statef("tenant %q is deleted", id)
	}
	return t, nil
}

// touchPolicy records a change of the tenant's policy.
func (a *applier) touchPolicy(t *Tenant) {
	t.PolicyVersion++
	t.PolicyChangedAt = a.now()
}

func (a *applier) createTenant(c CreateTenant) Result {
	if e := checkID("id", c.ID); e != nil {
		return Result{Err: e}
	}
	for _, f := range []struct{ name, v string }{{"organization", c.Organization}, {"name", c.Name}} {
		if e := checkText(f.name, f.v, maxTextLen, true); e != nil {
			return Result{Err: e}
		}
	}
	if e := checkEmail("email", c.Email); e != nil {
		return Result{Err: e}
	}
	cat, e := loadCatalog(a.tx)
	if e != nil {
		return Result{Err: e}
	}
	if _, e := checkTierName("tier", c.Tier, cat); e != nil {
		return Result{Err: e}
	}
	if old, e := loadTenant(a.tx, c.ID); e == nil {
		if old.Organization == c.Organization && old.Name == c.Name && old.Email == c.Email &&
			len(old.TierHistory) > 0 && old.TierHistory[0].Tier == c.Tier && old.CreatedAt.Equal(a.now()) {
			return Result{Unchanged: true, Tenant: old} // the same create, replayed
		}
		return Result{Err: conflictf("tenant %q already exists", c.ID)}
	} else if e.Code != CodeNotFound {
		return Result{Err: e}
	}
	if e := a.uniqueName(c.Organization, c.Name, ""); e != nil {
		return Result{Err: e}
	}
	now := a.now()
	t := &Tenant{
		ID: c.ID, Organization: c.Organization, Name: c.Name, Email: c.Email,
		Tier: c.Tier, Status: StatusActive, CreatedAt: now, UpdatedAt: now,
		TierHistory:   []TierSegment{{Tier: c.Tier, From: now}},
		PolicyVersion: 1, PolicyChangedAt: now,
	}
	saveTenant(a.tx, t)
	a.audit(t.ID, "tenant", t.ID, "tenant.created", map[string]string{
		"organization": c.Organization, "name": c.Name, "email": c.Email, "tier": c.Tier,
	})
	return Result{Tenant: t}
}

func (a *applier) updateTenant(c UpdateTenant) Result {
	t, e := a.liveTenant("tenant", c.Tenant)
	if e != nil {
		return Result{Err: e}
	}
	if c.Organization == "" && c.Name == "" && c.Email == "" {
		return Result{Err: invalidf("organization, name or email: at least one is required")}
	}
	details := map[string]string{}
	for _, f := range []struct {
		name string
		v    string
		dst  *string
	}{{"organization", c.Organization, &t.Organization}, {"name", c.Name, &t.Name}, {"email", c.Email, &t.Email}} {
		if f.v == "" {
			continue
		}
		if f.name == "email" {
			e = checkEmail(f.name, f.v)
		} else {
			e = checkText(f.name, f.v, maxTextLen, true)
		}
		if e != nil {
			return Result{Err: e}
		}
		if *f.dst != f.v {
			details[f.name+"_from"] = *f.dst
			details[f.name+"_to"] = f.v
			*f.dst = f.v
		}
	}
	if len(details) == 0 {
		return Result{Unchanged: true, Tenant: t}
	}
	if e := a.uniqueName(t.Organization, t.Name, t.ID); e != nil {
		return Result{Err: e}
	}
	t.UpdatedAt = a.now()
	saveTenant(a.tx, t)
	a.audit(t.ID, "tenant", t.ID, "tenant.updated", details)
	return Result{Tenant: t}
}

// uniqueName refuses (ErrConflict naming it) a tenant of organization org,
// other than self and not deleted, already named name; organization and
// name compare without regard to case. Commands of
// format 1 were applied without this rule and still are. It reads every
// tenant: creating and renaming tenants is rare next to the rest.
func (a *applier) uniqueName(org, name, self string) *Error {
	if a.h.legacy {
		return nil
	}
	var dup *Tenant
	err := eachTenant(a.tx, func(t *Tenant) error {
		if dup == nil && t.ID != self && t.Status != StatusDeleted &&
			strings.EqualFold(t.Organization, org) && strings.EqualFold(t.Name, name) {
			dup = t
		}
		return nil
	})
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return e
		}
		return internalf("%v", err)
	}
	if dup != nil {
		return conflictf("name: organization %q already has a tenant named %q: %s (pick another name, or use that tenant)", dup.Organization, dup.Name, dup.ID)
	}
	return nil
}

func (a *applier) changeTier(c ChangeTier) Result {
	t, e := a.liveTenant("tenant", c.Tenant)
	if e != nil {
		return Result{Err: e}
	}
	cat, e := loadCatalog(a.tx)
	if e != nil {
		return Result{Err: e}
	}
	if _, e := checkTierName("tier", c.Tier, cat); e != nil {
		return Result{Err: e}
	}
	if t.Tier == c.Tier {
		return Result{Unchanged: true, Tenant: t}
	}
	// The change takes effect at the command's time, but never inside a
	// period already invoiced nor before an earlier change (proposer
	// clocks may step back across leaders).
	from := a.now()
	if last := t.TierHistory[len(t.TierHistory)-1].From; from.Before(last) {
		from = last
	}
	if from.Before(t.BilledThrough) {
		from = t.BilledThrough
	}
	old := t.Tier
	t.Tier = c.Tier
	t.TierHistory = append(t.TierHistory, TierSegment{Tier: c.Tier, From: from})
	t.UpdatedAt = a.now()
	a.touchPolicy(t)
	saveTenant(a.tx, t)
	a.audit(t.ID, "tenant", t.ID, "tenant.tier_changed", map[string]string{
		"from": old, "to": c.Tier, "effective": from.Format(time.RFC3339Nano),
	})
	return Result{Tenant: t}
}

func (a *applier) suspendTenant(c SuspendTenant) Result {
	t, e := a.liveTenant("tenant", c.Tenant)
	if e != nil {
		return Result{Err: e}
	}
	reason := c.Reason
	if reason == "" {
		reason = "manual"
	}
	if e := checkText("reason", reason, maxTextLen, true); e != nil {
		return Result{Err: e}
	}
	if t.Status == StatusSuspended {
		return Result{Err: statef("tenant %q is already suspended (%s)", t.ID, t.SuspendReason)}
	}
	if reason == ReasonDunning {
		past, e := pastDue(a.tx, t.ID, a.now())
		if e != nil {
			return Result{Err: e}
		}
		if len(unwaived(t, past)) == 0 {
			return Result{Err: statef("tenant %q has no open invoice past due; not suspending for dunning", t.ID)}
		}
	}
	t.Status = StatusSuspended
	t.SuspendReason = reason
	t.SuspendedAt = a.now()
	t.UpdatedAt = a.now()
	a.touchPolicy(t)
	saveTenant(a.tx, t)
	a.audit(t.ID, "tenant", t.ID, "tenant.suspended", map[string]string{"reason": reason})
	return Result{Tenant: t}
}

func (a *applier) resumeTenant(c ResumeTenant) Result {
	t, e := a.liveTenant("tenant", c.Tenant)
	if e != nil {
		return Result{Err: e}
	}
	reason := c.Reason
	if reason == "" {
		reason = "manual"
	}
	if e := checkText("reason", reason, maxTextLen, true); e != nil {
		return Result{Err: e}
	}
	if t.Status != StatusSuspended {
		return Result{Err: statef("tenant %q is not suspended", t.ID)}
	}
	// The administrator's decision stands over the invoices past due now:
	// they are waived for dunning (see Tenant.DunningWaived).
	past, e := pastDue(a.tx, t.ID, a.now())
	if e != nil {
		return Result{Err: e}
	}
	t.DunningWaived = nil
	for _, inv := range past {
		t.DunningWaived = append(t.DunningWaived, inv.ID)
	}
	a.resume(t, reason, t.DunningWaived)
	saveTenant(a.tx, t)
	return Result{Tenant: t}
}

// resume reactivates t (the caller saves it); waived, when any, are the
// invoices a manual resumption waived for dunning (for the audit trail).
func (a *applier) resume(t *Tenant, reason string, waived []string) {
	was := t.SuspendReason
	t.Status = StatusActive
	t.SuspendReason = ""
	t.SuspendedAt = time.Time{}
	t.UpdatedAt = a.now()
	a.touchPolicy(t)
	details := map[string]string{"reason": reason, "suspend_reason": was}
	if len(waived) > 0 {
		details["dunning_waived"] = strings.Join(waived, ",")
	}
	a.audit(t.ID, "tenant", t.ID, "tenant.resumed", details)
}

// unwaived returns the invoices of past that t's last manual resumption
// did not waive for dunning.
func unwaived(t *Tenant, past []*Invoice) []*Invoice {
	if len(t.DunningWaived) == 0 {
		return past
	}
	var out []*Invoice
	for _, inv := range past {
		if !slices.Contains(t.DunningWaived, inv.ID) {
			out = append(out, inv)
		}
	}
	return out
}

func (a *applier) deleteTenant(c DeleteTenant) Result {
	t, e := a.liveTenant("tenant", c.Tenant)
	if e != nil {
		return Result{Err: e}
	}
	at := a.now()
	if at.Before(t.BilledThrough) {
		at = t.BilledThrough
	}
	if last := t.TierHistory[len(t.TierHistory)-1].From; at.Before(last) {
		at = last
	}
	t.Status = StatusDeleted
	t.SuspendReason = ""
	t.DeletedAt = at
	t.UpdatedAt = a.now()
	a.touchPolicy(t)
	saveTenant(a.tx, t)
	a.audit(t.ID, "tenant", t.ID, "tenant.deleted", map[string]string{"effective": at.Format(time.RFC3339Nano)})
	return Result{Tenant: t}
}

func (a *applier) revokeAgentKey(c RevokeAgentKey) Result {
	t, e := a.liveTenant("tenant", c.Tenant)
	if e != nil {
		return Result{Err: e}
	}
	if e := checkID("key_id", c.KeyID); e != nil {
		return Result{Err: e}
	}
	i, found := slices.BinarySearch(t.RevokedAgentKeys, c.KeyID)
	if found {
		return Result{Unchanged: true, Tenant: t}
	}
	if len(t.RevokedAgentKeys) >= maxRevokedAgentKeys {
		return Result{Err: statef("tenant %q already has %d revoked keys (the limit)", t.ID, maxRevokedAgentKeys)}
	}
	t.RevokedAgentKeys = slices.Insert(t.RevokedAgentKeys, i, c.KeyID)
	t.UpdatedAt = a.now()
	a.touchPolicy(t)
	saveTenant(a.tx, t)
	a.audit(t.ID, "tenant", t.ID, "tenant.key_revoked", map[string]string{
		"key_id": c.KeyID, "revoked_keys": strconv.Itoa(len(t.RevokedAgentKeys)),
	})
	return Result{Tenant: t}
}

// maxRevokedAgentKeys bounds a tenant's agent key revocation list (and so
// its policy).
const maxRevokedAgentKeys = 10000
