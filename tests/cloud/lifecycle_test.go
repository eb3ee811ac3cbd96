package cloud

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	billingclient "github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/internal/testwait"
	"github.com/aerolithdb/aerolith/provisioner"
)

// lifecycle is the cloud-independent flow every driver must pass through
// the simulator: create 3 managed nodes → formed, healthy, enrolled and
// serving a tenant's writes (metered into billing); scale to 5 and back to
// 3 under a write load with every acknowledged write present; destroy. It
// returns the time from the start of Apply to a formed cluster. gone
// reports what the cloud still holds after destroy ("" when nothing).
func lifecycle(t *testing.T, ctx context.Context, e *env, drv provisioner.Driver, tenant string, enr billingclient.Enrollment,
	spec func(n int) *provisioner.ClusterSpec, gone func() string) time.Duration {
	t.Helper()
	adminKey := "cluster-admin-key-0123456789abcdef"
	members := &lateMembers{}
	start := time.Now()
	p, err := provisioner.New(provisioner.Config{
		Driver: drv, UserData: provisioner.UserData(provisioner.Boot{AdminKey: adminKey}),
		Members: members, PollInterval: 100 * time.Millisecond,
		OnEvent: func(ev provisioner.Event) { t.Logf("%s %s %s", ev.Action, ev.NodeID, ev.Message) },
	})
	if err != nil {
		t.Fatal(err)
	}
	st, err := p.Apply(ctx, spec(3))
	if err != nil {
		t.Fatal(err)
	}
	adminC := clusterClient(t, ctx, e, enr.ClusterID, st, adminKey)
	members.set(adminC)
	waitFormed(t, ctx, adminC, 3)
	formed := time.Since(start)
	t.Logf("create → formed: %s", formed.Round(10*time.Millisecond))
	if err := adminC.Health(ctx); err != nil {
		t.Fatalf("health of the new cluster: %v", err)
	}

	var key string
	testwait.For(t, time.Minute, "a tenant key", func() error {
		k, err := adminC.CreateKey(ctx, tenant, "readwrite", "ci")
		if err == nil {
			key = k.Key
		}
		return err
	})
	w := &writer{c: clusterClient(t, ctx, e, enr.ClusterID, st, key)}
	for i := 0; i < 20; i++ {
		w.put(ctx)
	}
	if w.acked() != 20 {
		t.Fatalf("%d of 20 writes acknowledged: %v", w.acked(), w.lastErr)
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				w.put(ctx)
			}
		}
	}()
	st5, err := p.Apply(ctx, spec(5))
	if err != nil {
		t.Fatal(err)
	}
	wide := clusterClient(t, ctx, e, enr.ClusterID, st5, adminKey)
	members.set(wide)
	waitFormed(t, ctx, wide, 5)
	st3, err := p.Apply(ctx, spec(3))
	if err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	waitFormed(t, ctx, clusterClient(t, ctx, e, enr.ClusterID, st3, adminKey), 3)
	name := spec(3).Name
	if got := liveNodes(e.sim); !slices.Equal(got, []string{name + "-n1", name + "-n2", name + "-n3"}) {
		t.Fatalf("live after scaling back: %v", got)
	}
	reader := clusterClient(t, ctx, e, enr.ClusterID, st3, key)
	for _, id := range w.ids() {
		if _, err := reader.Get(ctx, "orders", id); err != nil {
			t.Fatalf("acknowledged write %s lost after 3 → 5 → 3: %v", id, err)
		}
	}
	t.Logf("%d acknowledged writes, all present after scaling 3 → 5 → 3", w.acked())
	testwait.For(t, time.Minute, fmt.Sprintf("billing to count at least %d writes", w.acked()), func() error {
		s, err := e.admin.Usage(ctx, tenant, billingclient.UsageQuery{From: start.Add(-time.Hour), To: time.Now().Add(time.Hour)})
		if err != nil {
			return err
		}
		if s.Total.Writes < uint64(w.acked()) {
			return fmt.Errorf("billed %d writes", s.Total.Writes)
		}
		return nil
	})

	if err := p.Destroy(ctx, spec(3)); err != nil {
		t.Fatal(err)
	}
	if got := liveNodes(e.sim); len(got) != 0 {
		t.Fatalf("after destroy: live %v", got)
	}
	if left := gone(); left != "" {
		t.Fatalf("after destroy the cloud still holds %s", left)
	}
	if running := e.booter.Running(); len(running) != 0 {
		t.Fatalf("agents still running after destroy: %v", running)
	}
	return formed
}
