package quota_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/agent/quota"
	"github.com/aerolithdb/aerolith/agent/quota/quotatest"
	"github.com/aerolithdb/aerolith/billing/contract"
)

var _ quota.Clock = (*quotatest.Clock)(nil)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// roomy is a policy whose limits nothing in a test reaches; tests lower
// the one they exercise.
func roomy(action contract.QuotaAction) contract.Policy {
	return contract.Policy{
		Tenant: "tn_a", Tier: "test", Status: contract.StatusActive, QuotaAction: action,
		Limits: contract.Limits{
			StorageBytes: 1 << 40, APICallsPerDay: 1 << 40, APICallsPerHour: 1 << 40,
			RequestsPerSecond: 1 << 30, ConcurrentConnections: 1 << 20, MaxQueryDuration: time.Minute,
			MaxCollections: 1 << 30, MaxDocumentsPerCollection: 1 << 40,
		},
		Version: 1, IssuedAt: epoch,
	}
}

func newEnforcer(t *testing.T, p contract.Policy, nodes int) (*quota.Enforcer, *quotatest.Clock) {
	t.Helper()
	clk := quotatest.NewClock(epoch)
	e, err := quota.New(quota.Config{Policy: p, Nodes: nodes, Clock: clk, MaxDelay: 2 * time.Second})
	if err != nil {
		t.Fatalf("quota.New: %v", err)
	}
	return e, clk
}

// admitN makes n requests that must all be served at once.
func admitN(t *testing.T, e *quota.Enforcer, n int) {
	t.Helper()
	for i := range n {
		if d := e.Request(false); !d.Allow || d.Delay != 0 || d.Limit != "" {
			t.Fatalf("request %d = %+v, want plain allow", i+1, d)
		}
	}
}

func TestEveryLimitEveryAction(t *testing.T) {
	type want struct {
		allow      bool
		status     int
		retryAfter time.Duration
		delay      time.Duration
		overage    bool
		warn       bool
	}
	served := func(a contract.QuotaAction) want {
		return want{allow: true, overage: a == contract.AllowWithOverage, warn: a == contract.Warn}
	}
	limits := []struct {
		limit quota.Limit
		set   func(*contract.Limits)
		// hit drives the enforcer to its limit and returns the decision
		// of the first request past it.
		hit  func(t *testing.T, e *quota.Enforcer, clk *quotatest.Clock) quota.Decision
		want map[contract.QuotaAction]want
	}{
		{
			limit: quota.RequestsPerSecond, set: func(l *contract.Limits) { l.RequestsPerSecond = 2 },
			hit: func(t *testing.T, e *quota.Enforcer, _ *quotatest.Clock) quota.Decision {
				admitN(t, e, 2)
				return e.Request(false)
			},
			want: map[contract.QuotaAction]want{
				contract.Block:    {status: 429, retryAfter: 500 * time.Millisecond},
				contract.Throttle: {allow: true, delay: 500 * time.Millisecond},
			},
		},
		{
			limit: quota.APICallsPerHour, set: func(l *contract.Limits) { l.APICallsPerHour = 3 },
			hit: func(t *testing.T, e *quota.Enforcer, _ *quotatest.Clock) quota.Decision {
				admitN(t, e, 3)
				return e.Request(true)
			},
			want: map[contract.QuotaAction]want{
				contract.Block: {status: 429, retryAfter: 20 * time.Minute},
				// 20 minutes is past MaxDelay: throttle refuses.
				contract.Throttle: {status: 429, retryAfter: 20 * time.Minute},
			},
		},
		{
			limit: quota.APICallsPerDay, set: func(l *contract.Limits) { l.APICallsPerDay = 4 },
			hit: func(t *testing.T, e *quota.Enforcer, _ *quotatest.Clock) quota.Decision {
				admitN(t, e, 4)
				return e.Request(false)
			},
			want: map[contract.QuotaAction]want{
				contract.Block:    {status: 429, retryAfter: 6 * time.Hour},
				contract.Throttle: {status: 429, retryAfter: 6 * time.Hour},
			},
		},
		{
			limit: quota.ConcurrentConnections, set: func(l *contract.Limits) { l.ConcurrentConnections = 1 },
			hit: func(t *testing.T, e *quota.Enforcer, clk *quotatest.Clock) quota.Decision {
				d, _ := e.Acquire(context.Background())
				if !d.Allow || d.Limit != "" {
					t.Fatalf("first Acquire = %+v", d)
				}
				// Under throttle the second waits; no slot frees, so the
				// wait ends at MaxDelay.
				res := make(chan quota.Decision, 1)
				go func() {
					d, release := e.Acquire(context.Background())
					release()
					res <- d
				}()
				for {
					select {
					case d := <-res:
						return d
					default:
					}
					if clk.Timers() > 0 {
						clk.Advance(2 * time.Second)
						return <-res
					}
					time.Sleep(time.Millisecond) // poll; the result is awaited above
				}
			},
			want: map[contract.QuotaAction]want{
				contract.Block:    {status: 429, retryAfter: time.Second},
				contract.Throttle: {status: 429, retryAfter: time.Second},
			},
		},
		{
			limit: quota.MaxQueryDuration, set: func(l *contract.Limits) { l.MaxQueryDuration = 3 * time.Second },
			hit: func(t *testing.T, e *quota.Enforcer, _ *quotatest.Clock) quota.Decision {
				before := time.Now()
				ctx, cancel := e.QueryContext(context.Background())
				defer cancel()
				dl, ok := ctx.Deadline()
				if !ok || dl.Before(before.Add(3*time.Second)) || dl.After(time.Now().Add(3*time.Second)) {
					t.Fatalf("QueryContext deadline = %v, %v; want 3s from now", dl, ok)
				}
				return e.QueryExceeded()
			},
			want: map[contract.QuotaAction]want{
				contract.Block: {status: 408}, contract.Throttle: {status: 408},
				contract.AllowWithOverage: {status: 408}, contract.Warn: {status: 408},
			},
		},
		{
			limit: quota.MaxCollections, set: func(l *contract.Limits) { l.MaxCollections = 2 },
			hit: func(t *testing.T, e *quota.Enforcer, _ *quotatest.Clock) quota.Decision {
				if d := e.CheckCollections(1, 1); !d.Allow || d.Limit != "" {
					t.Fatalf("CheckCollections(1, 1) = %+v, want allow", d)
				}
				return e.CheckCollections(2, 1)
			},
			want: map[contract.QuotaAction]want{contract.Block: {status: 429}, contract.Throttle: {status: 429}},
		},
		{
			limit: quota.MaxDocumentsPerCollection, set: func(l *contract.Limits) { l.MaxDocumentsPerCollection = 10 },
			hit: func(t *testing.T, e *quota.Enforcer, _ *quotatest.Clock) quota.Decision {
				if d := e.CheckDocuments("c", 7, 3); !d.Allow || d.Limit != "" {
					t.Fatalf("CheckDocuments(7, 3) = %+v, want allow", d)
				}
				if d := e.CheckDocuments("c", 10, 0); !d.Allow || d.Limit != "" {
					t.Fatalf("CheckDocuments(10, 0) = %+v, want allow (a replace adds nothing)", d)
				}
				return e.CheckDocuments("c", 8, 3)
			},
			want: map[contract.QuotaAction]want{contract.Block: {status: 429}, contract.Throttle: {status: 429}},
		},
		{
			limit: quota.StorageBytes, set: func(l *contract.Limits) { l.StorageBytes = 1000 },
			hit: func(t *testing.T, e *quota.Enforcer, _ *quotatest.Clock) quota.Decision {
				if d := e.CheckStorage(900, 100); !d.Allow || d.Limit != "" {
					t.Fatalf("CheckStorage(900, 100) = %+v, want allow", d)
				}
				if d := e.CheckStorage(5000, -10); !d.Allow || d.Limit != "" {
					t.Fatalf("CheckStorage(5000, -10) = %+v, want allow (frees space)", d)
				}
				return e.CheckStorage(900, 101)
			},
			want: map[contract.QuotaAction]want{contract.Block: {status: 507}, contract.Throttle: {status: 507}},
		},
	}
	actions := []contract.QuotaAction{contract.Block, contract.Throttle, contract.AllowWithOverage, contract.Warn}
	for _, l := range limits {
		for _, a := range actions {
			t.Run(string(l.limit)+"/"+string(a), func(t *testing.T) {
				p := roomy(a)
				l.set(&p.Limits)
				e, clk := newEnforcer(t, p, 1)
				d := l.hit(t, e, clk)
				w, ok := l.want[a]
				if !ok {
					w = served(a)
				}
				got := want{allow: d.Allow, status: d.Status, retryAfter: d.RetryAfter, delay: d.Delay, overage: d.Overage, warn: d.Warn}
				if got != w {
					t.Fatalf("decision = %+v, want %+v", d, w)
				}
				if d.Limit != l.limit {
					t.Errorf("Limit = %q, want %q", d.Limit, l.limit)
				}
				if !strings.Contains(d.Message, string(l.limit)) {
					t.Errorf("Message = %q, want it to name %s", d.Message, l.limit)
				}
				if n := sum(e.Stats(), l.limit); n != 1 {
					t.Errorf("Stats for %s = %d, want 1 (%v)", l.limit, n, e.Stats())
				}
			})
		}
	}
}

func sum(s map[quota.Key]int64, l quota.Limit) int64 {
	var n int64
	for k, v := range s {
		if k.Limit == l {
			n += v
		}
	}
	return n
}

func TestThrottleDelaysUpToMaxThenRefuses(t *testing.T) {
	p := roomy(contract.Throttle)
	p.Limits.RequestsPerSecond = 4 // 250ms a token, burst 4
	e, clk := newEnforcer(t, p, 1)
	admitN(t, e, 4)
	// Each further request reserves the next token: 250ms, 500ms, ...
	for i := 1; i <= 8; i++ {
		d := e.Request(false)
		if want := time.Duration(i) * 250 * time.Millisecond; !d.Allow || d.Delay != want {
			t.Fatalf("request %d = %+v, want allow after %s", i, d, want)
		}
	}
	// The 9th would wait 2.25s > MaxDelay 2s.
	if d := e.Request(false); d.Allow || d.Status != 429 || d.RetryAfter != 2250*time.Millisecond {
		t.Fatalf("past MaxDelay = %+v, want 429 retry after 2.25s", d)
	}
	clk.Advance(3 * time.Second) // every reservation served; 1 token back
	if d := e.Request(false); !d.Allow || d.Delay != 0 {
		t.Fatalf("after refill = %+v, want allow", d)
	}
}

func TestBucketRefills(t *testing.T) {
	p := roomy(contract.Block)
	p.Limits.RequestsPerSecond = 10
	e, clk := newEnforcer(t, p, 1)
	admitN(t, e, 10)
	if d := e.Request(false); d.Allow {
		t.Fatalf("11th request = %+v, want refused", d)
	}
	clk.Advance(300 * time.Millisecond)
	admitN(t, e, 3)
	if d := e.Request(false); d.Allow {
		t.Fatalf("request past refill = %+v, want refused", d)
	}
	clk.Advance(10 * time.Second) // full again, never more than the burst
	admitN(t, e, 10)
	if d := e.Request(false); d.Allow {
		t.Fatalf("request past full burst = %+v, want refused", d)
	}
}

func TestOverageCountsInOtherWindows(t *testing.T) {
	p := roomy(contract.AllowWithOverage)
	p.Limits.RequestsPerSecond = 1
	p.Limits.APICallsPerHour = 3
	e, _ := newEnforcer(t, p, 1)
	admitN(t, e, 1)
	// Over the per-second limit: served as overage, still counted hourly.
	for range 2 {
		if d := e.Request(false); !d.Overage || d.Limit != quota.RequestsPerSecond {
			t.Fatalf("decision = %+v, want overage on requests_per_second", d)
		}
	}
	if d := e.Request(false); !d.Overage || d.Limit != quota.APICallsPerHour {
		t.Fatalf("4th call = %+v, want overage on api_calls_per_hour", d)
	}
}

func TestSuspendedAndDeleted(t *testing.T) {
	for _, a := range []contract.QuotaAction{contract.Block, contract.Throttle, contract.AllowWithOverage, contract.Warn} {
		t.Run(string(a), func(t *testing.T) {
			p := roomy(a)
			e, _ := newEnforcer(t, p, 1)
			p.Status = contract.StatusSuspended
			p.Version++
			if err := e.SetPolicy(p); err != nil {
				t.Fatal(err)
			}
			if d := e.Request(false); !d.Allow {
				t.Errorf("read of suspended tenant = %+v, want allow", d)
			}
			for name, d := range map[string]quota.Decision{"Request(true)": e.Request(true), "Write()": e.Write()} {
				if d.Allow || d.Status != http.StatusPaymentRequired || d.Limit != quota.Suspended ||
					!strings.Contains(d.Message, "unpaid invoice") || !strings.Contains(d.Message, "tenant_id=tn_a") {
					t.Errorf("%s of suspended tenant = %+v, want 402 pointing at the invoice", name, d)
				}
			}
			p.Status = contract.StatusActive
			if err := e.SetPolicy(p); err != nil {
				t.Fatal(err)
			}
			if d := e.Request(true); !d.Allow {
				t.Errorf("write after resume = %+v, want allow", d)
			}
			p.Status = contract.StatusDeleted
			if err := e.SetPolicy(p); err != nil {
				t.Fatal(err)
			}
			if d := e.Request(false); d.Allow || d.Status != http.StatusForbidden {
				t.Errorf("read of deleted tenant = %+v, want 403", d)
			}
		})
	}
}

func TestSharedAmongNodes(t *testing.T) {
	p := roomy(contract.Block)
	p.Limits.RequestsPerSecond = 10
	p.Limits.ConcurrentConnections = 5
	e, clk := newEnforcer(t, p, 2)
	admitN(t, e, 5) // half of 10
	if d := e.Request(false); d.Allow {
		t.Fatalf("6th request on 1 of 2 nodes = %+v, want refused", d)
	}
	// Node share of concurrency: ceil(5/2) = 3.
	var releases []func()
	for i := range 3 {
		d, r := e.Acquire(context.Background())
		if !d.Allow || d.Limit != "" {
			t.Fatalf("Acquire %d = %+v", i, d)
		}
		releases = append(releases, r)
	}
	if d, _ := e.Acquire(context.Background()); d.Allow {
		t.Fatalf("4th Acquire on 1 of 2 nodes = %+v, want refused", d)
	}
	for _, r := range releases {
		r()
	}
	// A node leaves: this node now has the whole limit; the 5 tokens in
	// use stay in use, so 5 more are admitted, not 10.
	e.SetNodes(1)
	admitN(t, e, 5)
	if d := e.Request(false); d.Allow {
		t.Fatalf("request past rebalanced burst = %+v, want refused", d)
	}
	// Back to 3 nodes: 10 tokens in use against a burst of 4 (ceil 10/3);
	// at 10/3 per second that drains 6 over the burst in 1.8s.
	e.SetNodes(3)
	clk.Advance(1500 * time.Millisecond)
	if d := e.Request(false); d.Allow {
		t.Fatalf("request 1.5s after shrinking = %+v, want refused", d)
	}
	clk.Advance(600 * time.Millisecond)
	admitN(t, e, 1)
}

func TestAcquireThrottleWaitsForSlot(t *testing.T) {
	p := roomy(contract.Throttle)
	p.Limits.ConcurrentConnections = 1
	e, clk := newEnforcer(t, p, 1)
	_, release := e.Acquire(context.Background())
	res := make(chan quota.Decision, 1)
	go func() {
		d, r := e.Acquire(context.Background())
		defer r()
		res <- d
	}()
	deadline := time.Now().Add(30 * time.Second)
	for clk.Timers() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("second Acquire never waited")
		}
		time.Sleep(time.Millisecond)
	}
	clk.Advance(time.Second)
	release()
	if d := <-res; !d.Allow || d.Limit != quota.ConcurrentConnections || d.Delay != time.Second {
		t.Fatalf("waiting Acquire = %+v, want allow after 1s", d)
	}
	// ctx cancelled while waiting: refused.
	_, release = e.Acquire(context.Background())
	defer release()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if d, _ := e.Acquire(ctx); d.Allow || d.Status != 429 {
		t.Fatalf("Acquire with done ctx = %+v, want 429", d)
	}
}

func TestNewRejectsBadPolicy(t *testing.T) {
	cases := []struct {
		name string
		mod  func(*contract.Policy)
		want string
	}{
		{"no tenant", func(p *contract.Policy) { p.Tenant = "" }, "tenant_id: required"},
		{"action", func(p *contract.Policy) { p.QuotaAction = "drop" }, `quota_action: unknown action "drop"`},
		{"status", func(p *contract.Policy) { p.Status = "gone" }, `status: unknown status "gone"`},
		{"rps", func(p *contract.Policy) { p.Limits.RequestsPerSecond = 0 }, "limits.requests_per_second: must be positive (got 0)"},
		{"duration", func(p *contract.Policy) { p.Limits.MaxQueryDuration = -1 }, "limits.max_query_duration: must be positive"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := roomy(contract.Block)
			c.mod(&p)
			_, err := quota.New(quota.Config{Policy: p})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("New = %v, want error containing %q", err, c.want)
			}
		})
	}
	e, _ := newEnforcer(t, roomy(contract.Block), 1)
	other := roomy(contract.Block)
	other.Tenant = "tn_b"
	if err := e.SetPolicy(other); err == nil {
		t.Fatal("SetPolicy for another tenant succeeded")
	}
}
