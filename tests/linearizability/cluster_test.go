package linearizability

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/aerolithdb/aerolith/tests/proctest"
)

var (
	binary string

	seeds     = flag.Int("seeds", 3, "number of seeds (fresh clusters) to run")
	firstSeed = flag.Int64("seed", 1, "first seed")
	duration  = flag.Duration("duration", 10*time.Second, "length of the operation phase per seed")
	clients   = flag.Int("clients", 6, "concurrent clients per seed")
	keys      = flag.Int("keys", 10, "number of documents (registers) the clients share; each is checked on its own, so more keys keep each history small enough to check (five let an unlucky seed with many unknown writes exceed the check's time limit)")
	checkFor  = flag.Duration("check-timeout", 2*time.Minute, "porcupine time limit per seed")
	readCons  = flag.String("read-consistency", string(proctest.Linearizable),
		"consistency of the gets; anything but linearizable is expected to fail (shows the checker catches stale reads)")
)

func TestMain(m *testing.M) { os.Exit(proctest.RunMain(m, &binary)) }

// TestLinearizableUnderLeaderKills runs, for each seed, concurrent get / put
// / conditional put clients against random nodes of a fresh 3-node cluster
// while a nemesis repeatedly SIGKILLs the leader and restarts it, then checks
// the whole history with porcupine. A violation fails the test and writes the
// porcupine visualization to a temporary HTML file.
func TestLinearizableUnderLeaderKills(t *testing.T) {
	proctest.SkipIfShort(t)
	for s := *firstSeed; s < *firstSeed+int64(*seeds); s++ {
		t.Run(fmt.Sprintf("seed=%d", s), func(t *testing.T) { runSeed(t, s, *duration, killNemesis) })
	}
}

// A nemesis injects faults into c until ctx ends and returns how many it
// injected. It may aim the clients at a node by storing its index in
// target (-1: every node alike); rng is the seed's.
type nemesisFunc func(ctx context.Context, t *testing.T, c *proctest.Cluster, target *atomic.Int32, rng *rand.Rand) (int64, error)

// killNemesis is nemesis as a nemesisFunc.
func killNemesis(ctx context.Context, t *testing.T, c *proctest.Cluster, _ *atomic.Int32, _ *rand.Rand) (int64, error) {
	var kills atomic.Int64
	err := nemesis(ctx, t, c, &kills)
	return kills.Load(), err
}

// runSeed runs one seed: a fresh cluster, the clients for d while nem
// injects faults, then the porcupine check of the history.
func runSeed(t *testing.T, seed int64, d time.Duration, nem nemesisFunc) {
	c := proctest.StartCluster(t, proctest.Config{Binary: binary})
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16, IdleConnTimeout: 30 * time.Second}}
	t.Cleanup(hc.CloseIdleConnections)
	api := proctest.NewClient(c.AdminKey(), hc)
	coll := fmt.Sprintf("lin%d", seed)

	rec := NewRecorder()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()

	var (
		wg     sync.WaitGroup
		bugMu  sync.Mutex
		bugs   []error
		target atomic.Int32
	)
	target.Store(-1)
	bug := func(err error) {
		bugMu.Lock()
		bugs = append(bugs, err)
		bugMu.Unlock()
	}
	for i := 0; i < *clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := &client{
				rec: rec, api: api, c: c, coll: coll, bug: bug, target: &target, onTarget: i%2 == 0,
				rng:  rand.New(rand.NewPCG(uint64(seed), uint64(i))),
				name: fmt.Sprintf("s%d-c%d", seed, i),
				seen: map[string]uint64{},
			}
			cl.run(ctx)
		}()
	}
	var faults int64
	nemesisErr := make(chan error, 1)
	go func() {
		var err error
		faults, err = nem(ctx, t, c, &target, rand.New(rand.NewPCG(uint64(seed), 1<<32)))
		nemesisErr <- err
	}()
	wg.Wait()
	if err := <-nemesisErr; err != nil {
		t.Fatalf("nemesis: %v", err)
	}
	for _, err := range bugs {
		t.Error(err)
	}

	history := rec.History()
	t.Logf("seed %d: %d ops, %d faults: %s", seed, len(history), faults, Summary(history))
	if faults == 0 {
		t.Errorf("the nemesis injected no fault during the run")
	}
	assertProgress(t, history)

	model := Model()
	res, info := porcupine.CheckOperationsVerbose(model, history, *checkFor)
	switch res {
	case porcupine.Ok:
	case porcupine.Illegal:
		f, err := os.CreateTemp("", fmt.Sprintf("aerolith-linearizability-seed%d-*.html", seed))
		if err != nil {
			t.Fatalf("history is NOT linearizable (and the visualization could not be written: %v)", err)
		}
		verr := porcupine.Visualize(model, info, f)
		f.Close()
		if verr != nil {
			t.Fatalf("history is NOT linearizable (visualization failed: %v)", verr)
		}
		t.Fatalf("history is NOT linearizable; visualization: %s", f.Name())
	default:
		t.Fatalf("porcupine could not decide within %v (result %s); rerun with -check-timeout", *checkFor, res)
	}
}

// assertProgress fails the test when the history is too thin to mean
// anything: every kind of operation must have succeeded.
func assertProgress(t *testing.T, history []porcupine.Operation) {
	t.Helper()
	var gets, puts, cass, rejects int
	for _, op := range history {
		in, out := op.Input.(Input), op.Output.(Output)
		if out.Unknown {
			continue
		}
		switch {
		case in.Kind == Get && out.Found:
			gets++
		case in.Kind == Put:
			puts++
		case in.Kind == CAS && out.Rejected:
			rejects++
		case in.Kind == CAS:
			cass++
		}
	}
	if gets == 0 || puts == 0 || cass == 0 || rejects == 0 {
		t.Errorf("too little progress to check: %d gets found, %d puts, %d cas ok, %d cas rejected", gets, puts, cass, rejects)
	}
}

// nemesis kills the leader, waits for a new one, restarts the old leader and
// waits until it is ready, over and over until ctx ends.
func nemesis(ctx context.Context, t *testing.T, c *proctest.Cluster, kills *atomic.Int64) error {
	// Waits use their own deadline so a cycle started near the end of the
	// run still completes with every node running.
	pause := func(d time.Duration) bool {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(d):
			return true
		}
	}
	for pause(1500 * time.Millisecond) {
		wctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		l, err := c.WaitLeader(wctx)
		if err != nil {
			cancel()
			return err
		}
		if err := c.Kill(l); err != nil {
			cancel()
			return err
		}
		kills.Add(1)
		nl, err := c.WaitNewLeader(wctx, l)
		if err != nil {
			cancel()
			return fmt.Errorf("after killing %s: %w", c.NodeID(l), err)
		}
		t.Logf("killed leader %s; new leader %s", c.NodeID(l), c.NodeID(nl))
		pause(time.Second)
		if err := c.StartNode(l); err != nil {
			cancel()
			return err
		}
		err = c.WaitReady(wctx, l)
		cancel()
		if err != nil {
			return fmt.Errorf("restarted %s: %w", c.NodeID(l), err)
		}
	}
	return nil
}

// client runs random operations against random nodes and records them.
type client struct {
	rec  *Recorder
	api  *proctest.Client
	c    *proctest.Cluster
	coll string
	bug  func(error)
	// target, when >= 0, is the node the nemesis aims the clients at:
	// the clients with onTarget send every operation to it, the others
	// to the other nodes.
	target   *atomic.Int32
	onTarget bool
	rng      *rand.Rand
	name     string
	id       int // current porcupine client id
	seq      int
	seen     map[string]uint64 // last version this client saw per key
}

func (cl *client) run(ctx context.Context) {
	cl.id = cl.rec.NewClient()
	for ctx.Err() == nil {
		key := fmt.Sprintf("k%d", cl.rng.IntN(*keys))
		node := cl.rng.IntN(cl.c.N())
		if tg := int(cl.target.Load()); tg >= 0 {
			// Half of the clients stay on the target (and wait for it
			// while it is frozen), the others keep the rest of the
			// cluster busy meanwhile.
			if cl.onTarget {
				node = tg
			} else {
				node = (tg + 1 + cl.rng.IntN(cl.c.N()-1)) % cl.c.N()
			}
		}
		var in Input
		switch r := cl.rng.IntN(10); {
		case r < 4:
			in = Input{Kind: Get, Key: key}
		case r < 7:
			cl.seq++
			in = Input{Kind: Put, Key: key, Value: fmt.Sprintf("%s-%d", cl.name, cl.seq)}
		default:
			cl.seq++
			ifv := cl.seen[key]
			if ifv == 0 || cl.rng.IntN(5) == 0 {
				ifv++ // sometimes deliberately stale or ahead: exercises 412
			}
			in = Input{Kind: CAS, Key: key, Value: fmt.Sprintf("%s-%d", cl.name, cl.seq), IfVersion: ifv}
		}
		out, keep := cl.do(ctx, node, in)
		if !keep {
			continue
		}
		if out.Unknown {
			// This operation never returns; later ones belong to a new
			// process as far as the history is concerned.
			cl.id = cl.rec.NewClient()
		} else if out.Version > 0 {
			cl.seen[key] = out.Version
		}
	}
}

// do runs one operation and records it. keep is false when the operation
// provably had no effect and is left out of the history (failed reads,
// writes that never reached a server).
func (cl *client) do(ctx context.Context, node int, in Input) (out Output, keep bool) {
	base := cl.c.URL(node)
	// Requests outlive the run's deadline a little so operations in flight
	// at the end still get an answer; each is bounded on its own.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
	defer cancel()
	call := cl.rec.Now()
	var (
		doc proctest.Document
		err error
	)
	switch in.Kind {
	case Get:
		doc, err = cl.api.Get(rctx, base, cl.coll, in.Key, proctest.Consistency(*readCons))
	case Put:
		doc, err = cl.api.Put(rctx, base, cl.coll, in.Key, map[string]any{"v": in.Value}, 0)
	case CAS:
		doc, err = cl.api.Put(rctx, base, cl.coll, in.Key, map[string]any{"v": in.Value}, in.IfVersion)
	}
	ret := cl.rec.Now()
	status := proctest.StatusOf(err)
	switch {
	case err == nil:
		out = Output{Version: doc.Version}
		if in.Kind == Get {
			v, derr := value(doc)
			if derr != nil {
				cl.bug(fmt.Errorf("%s %s on %s: %w", in.Kind, in.Key, cl.c.NodeID(node), derr))
				return Output{}, false
			}
			out.Found, out.Value = true, v
		}
	case in.Kind == Get && status == http.StatusNotFound:
		out = Output{}
	case in.Kind == Get:
		return Output{}, false // a failed read has no effect
	case proctest.NotSent(err):
		return Output{}, false // never reached a server
	case in.Kind == CAS && status == http.StatusPreconditionFailed:
		out = Output{Rejected: true}
	default:
		if status >= 400 && status < 500 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests {
			cl.bug(fmt.Errorf("%s %s on %s: unexpected answer: %w", in.Kind, in.Key, cl.c.NodeID(node), err))
		}
		out = Output{Unknown: true}
	}
	cl.rec.Add(cl.id, in, call, out, ret)
	return out, true
}

// value extracts the register value from a document {"v": "..."}.
func value(doc proctest.Document) (string, error) {
	var d struct {
		V *string `json:"v"`
	}
	if err := json.Unmarshal(doc.Data, &d); err != nil {
		return "", err
	}
	if d.V == nil {
		return "", errors.New(`document has no "v" field: ` + string(doc.Data))
	}
	return *d.V, nil
}
