package meter

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/billing/client"
)

// collectSender accepts every record, as billing does: once per
// (node, seq), however often it is sent.
type collectSender struct {
	mu   sync.Mutex
	seen map[uint64]client.UsageRecord
}

func (s *collectSender) SendUsage(_ context.Context, recs []client.UsageRecord) (client.IngestResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen == nil {
		s.seen = make(map[uint64]client.UsageRecord)
	}
	var res client.IngestResult
	for _, r := range recs {
		status := client.RecordAccepted
		if _, dup := s.seen[r.Seq]; dup {
			status = client.RecordDuplicate
		}
		s.seen[r.Seq] = r
		res.Records = append(res.Records, client.RecordResult{Status: status})
	}
	return res, nil
}

// total is the usage billed per tenant.
func (s *collectSender) total() map[string]Usage {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]Usage)
	for _, r := range s.seen {
		u := out[r.TenantID]
		u.add(Usage{Reads: r.Reads, Writes: r.Writes, Queries: r.Queries, QueryComputeMs: r.QueryComputeMs,
			IngressBytes: r.IngressBytes, EgressBytes: r.EgressBytes})
		out[r.TenantID] = u
	}
	return out
}

func flush(t *testing.T, m *Meter) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := m.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

func slogTo(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, nil)).With("component", "meter")
}

// usageTally adds up what Record accepted, per tenant.
type usageTally map[string]Usage

func (ut usageTally) record(t *testing.T, m *Meter, tenant string, u Usage) {
	t.Helper()
	mustRecord(t, m, tenant, u)
	x := ut[tenant]
	x.add(u)
	ut[tenant] = x
}

func checkBilled(t *testing.T, snd *collectSender, want usageTally) {
	t.Helper()
	got := snd.total()
	for tn, u := range want {
		if got[tn] != u {
			t.Errorf("tenant %s: billed %+v, recorded %+v", tn, got[tn], u)
		}
	}
	for tn, u := range got {
		if _, ok := want[tn]; !ok {
			t.Errorf("tenant %s: billed %+v, recorded nothing", tn, u)
		}
	}
}

var errCrash = errors.New("simulated crash")

// TestCrashAtEachStep kills the meter at each step of a window close
// (and before any), with a request recorded inside the close, reopens it
// on its directory and checks that billing gets every recorded usage
// exactly once, and that Open replayed exactly the journal records not
// yet in the outbox.
func TestCrashAtEachStep(t *testing.T) {
	steps := []struct {
		step string
		// replayed is what Open must replay: the workload (w) and the
		// record made during the close (1) unless consumed.
		consumed bool
	}{
		{"", false},
		{stepCut, false},
		{stepSynced, false},
		{stepCommitted, true},
		{stepRemoved, true},
	}
	for _, final := range []bool{false, true} {
		for _, tt := range steps {
			name := fmt.Sprintf("final=%v/step=%s", final, tt.step)
			if tt.step == "" {
				if final {
					continue
				}
				name = "before close"
			}
			t.Run(name, func(t *testing.T) {
				dir := t.TempDir()
				snd := &collectSender{}
				want := usageTally{}
				m := newTestMeter(t, dir, snd, nil)
				if err := m.Open(t.Context()); err != nil {
					t.Fatal(err)
				}
				// An earlier, completed window, so the outbox has a
				// consumed generation and records of its own.
				want.record(t, m, "a", Usage{Reads: 1, IngressBytes: 10})
				if err := CloseWindow(m); err != nil {
					t.Fatal(err)
				}
				const w = 7
				for i := range w {
					want.record(t, m, []string{"a", "b", "c"}[i%3], Usage{Reads: 1, Writes: uint64(i), Queries: 2, EgressBytes: 100})
				}
				inClose := 0
				m.failpoint = func(step string) error {
					if step != tt.step {
						return nil
					}
					// A request served while the window closes.
					err := m.Record("b", Usage{Writes: 1000})
					switch {
					case final && !errors.Is(err, ErrClosed):
						t.Errorf("Record during the final close = %v, want ErrClosed", err)
					case !final && err != nil:
						t.Errorf("Record during the close = %v", err)
					case !final:
						inClose = 1
						x := want["b"]
						x.Writes += 1000
						want["b"] = x
					}
					return errCrash
				}
				switch {
				case tt.step == "":
					if err := Crash(m); err != nil {
						t.Fatal(err)
					}
				case final:
					if err := m.Close(); !errors.Is(err, errCrash) {
						t.Fatalf("Close = %v, want the simulated crash", err)
					}
				default:
					if err := CloseWindow(m); !errors.Is(err, errCrash) {
						t.Fatalf("closeWindow = %v, want the simulated crash", err)
					}
					if err := Crash(m); err != nil {
						t.Fatal(err)
					}
				}

				m2 := newTestMeter(t, dir, snd, nil)
				if err := m2.Open(t.Context()); err != nil {
					t.Fatal(err)
				}
				wantReplay := inClose
				if !tt.consumed {
					wantReplay += w
				}
				if st, err := m2.Stats(); err != nil || st.Replayed != wantReplay || st.SkippedJournalBytes != 0 {
					t.Fatalf("stats after reopen = %+v, %v; want %d replayed", st, err, wantReplay)
				}
				want.record(t, m2, "c", Usage{Queries: 1, QueryComputeMs: 3})
				flush(t, m2)
				if err := m2.Close(); err != nil {
					t.Fatal(err)
				}
				checkBilled(t, snd, want)

				// Nothing is replayed twice, nothing left behind.
				m3 := newTestMeter(t, dir, snd, nil)
				if err := m3.Open(t.Context()); err != nil {
					t.Fatal(err)
				}
				if st, err := m3.Stats(); err != nil || st.Replayed != 0 || st.Pending != 0 {
					t.Fatalf("stats after a clean restart = %+v, %v; want nothing replayed or pending", st, err)
				}
				flush(t, m3)
				if err := m3.Close(); err != nil {
					t.Fatal(err)
				}
				checkBilled(t, snd, want)
				if gens, err := listJournals(dir); err != nil || len(gens) != 0 {
					t.Fatalf("journals after a clean Close = %v, %v", gens, err)
				}
			})
		}
	}
}

// TestCrashRounds runs rounds of concurrent recording and window closes
// that succeed or fail (before the fsync or the outbox commit), ending
// with a crash at a random step of a close, and a reopening; it then
// checks billing got every recorded usage exactly once.
func TestCrashRounds(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	dir := t.TempDir()
	snd := &collectSender{}
	want := usageTally{}
	var wantMu sync.Mutex
	tenants := []string{"a", "b", "c", "d"}
	stepsAll := []string{stepCut, stepSynced, stepCommitted, stepRemoved}
	for round := range 12 {
		m := newTestMeter(t, dir, snd, nil)
		if err := m.Open(t.Context()); err != nil {
			t.Fatal(err)
		}
		crashStep := stepsAll[rng.IntN(len(stepsAll))]
		closes := rng.IntN(5)
		var armed sync.Mutex
		crashNow, failNow := false, ""
		m.failpoint = func(step string) error {
			armed.Lock()
			defer armed.Unlock()
			switch {
			case crashNow && step == crashStep:
				return errCrash
			case step == failNow:
				return errors.New("disk full")
			}
			return nil
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					tn := tenants[(w+i+round)%len(tenants)]
					u := Usage{Reads: 1, Writes: uint64(i % 3), IngressBytes: uint64(w*1000 + i)}
					if err := m.Record(tn, u); err != nil {
						t.Errorf("round %d: Record: %v", round, err)
						return
					}
					wantMu.Lock()
					x := want[tn]
					x.add(u)
					want[tn] = x
					wantMu.Unlock()
					if i%50 == 49 {
						time.Sleep(100 * time.Microsecond)
					}
				}
			}()
		}
		for range closes {
			time.Sleep(time.Millisecond)
			// Some closes fail before fsync or commit: their usage must
			// go back to the counters and their journals stay pending.
			failAt := []string{"", "", stepSync, stepCommit}[rng.IntN(4)]
			armed.Lock()
			failNow = failAt
			armed.Unlock()
			err := CloseWindow(m)
			if (failAt == "") != (err == nil) {
				t.Fatalf("round %d: closeWindow failing at %q = %v", round, failAt, err)
			}
		}
		armed.Lock()
		failNow = ""
		armed.Unlock()
		time.Sleep(time.Millisecond)
		armed.Lock()
		crashNow = true
		armed.Unlock()
		err := CloseWindow(m)
		close(stop)
		wg.Wait()
		if !errors.Is(err, errCrash) {
			t.Fatalf("round %d: closeWindow = %v, want the simulated crash", round, err)
		}
		if err := Crash(m); err != nil {
			t.Fatal(err)
		}
	}
	m := newTestMeter(t, dir, snd, nil)
	if err := m.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	flush(t, m)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	checkBilled(t, snd, want)
}

// Environment of the child process of TestSIGKILL.
const (
	envChildDir   = "AEROLITH_METER_TEST_CHILD_DIR"
	envChildPlain = "AEROLITH_METER_TEST_CHILD_PLAIN" // "1": the child journals with write(2)
)

// TestSIGKILLChild is the child process of TestSIGKILL (skipped
// otherwise): it records Usage{Reads: 1, IngressBytes: i} for i = 0, 1,
// ... on a meter closing a window every 2ms, whose billing is down, and
// prints i once Record(i) returned.
func TestSIGKILLChild(t *testing.T) {
	dir := os.Getenv(envChildDir)
	if dir == "" {
		t.Skip("child of TestSIGKILL only")
	}
	down := senderFunc(func(context.Context, []client.UsageRecord) (client.IngestResult, error) {
		return client.IngestResult{}, errors.New("billing down")
	})
	m, err := New(Config{NodeID: "n1", DataDir: dir, Window: 2 * time.Millisecond, MinBackoff: time.Hour}, down, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	m.jour.plainWrites = os.Getenv(envChildPlain) == "1"
	if err := m.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(os.Stdout, "open")
	for i := uint64(0); ; i++ {
		if err := m.Record("tn_kill", Usage{Reads: 1, IngressBytes: i}); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stdout.WriteString(strconv.FormatUint(i, 10) + "\n"); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSIGKILL records in a child process that is SIGKILLed at a random
// point (windows close every 2ms, so kills land inside closes too),
// several times on one directory, then bills everything: each Record the
// child saw return is billed exactly once. At most one more per kill may
// be billed: a Record that returned but whose line the kill prevented.
// For both journal writers; the mapped one's zero tails are not skipped
// bytes.
func TestSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	for _, plain := range []bool{false, true} {
		t.Run(fmt.Sprintf("plain=%v", plain), func(t *testing.T) { testSIGKILL(t, plain) })
	}
}

func testSIGKILL(t *testing.T, plain bool) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	var confirmedReads, confirmedIngress, extraIngress uint64
	const kills = 4
	for k := range kills {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSIGKILLChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), envChildDir+"="+dir, envChildPlain+"=0")
		if plain {
			cmd.Env[len(cmd.Env)-1] = envChildPlain + "=1"
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr lockedBuffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { // a failed test leaves no child behind
			cmd.Process.Kill()
			cmd.Wait()
		})
		sc := bufio.NewScanner(out)
		if !sc.Scan() || sc.Text() != "open" {
			t.Fatalf("child %d did not open: %q\n%s", k, sc.Text(), stderr.String())
		}
		killAfter := 200 + rng.IntN(3000)
		n, last := 0, uint64(0)
		for sc.Scan() {
			i, err := strconv.ParseUint(sc.Text(), 10, 64)
			if err != nil {
				// The last line may be cut by the kill.
				continue
			}
			if i != uint64(n) {
				t.Fatalf("child %d printed %d, want %d", k, i, n)
			}
			confirmedReads++
			confirmedIngress += i
			n++
			last = i
			if n == killAfter {
				if err := cmd.Process.Kill(); err != nil {
					t.Fatal(err)
				}
			}
		}
		werr := cmd.Wait()
		if n < killAfter {
			t.Fatalf("child %d ended after %d records (%v):\n%s", k, n, werr, stderr.String())
		}
		// The child may have recorded i = last+1 without printing it.
		extraIngress += last + 1
		t.Logf("child %d killed after %d confirmed records", k, n)
	}
	snd := &collectSender{}
	m := newTestMeter(t, dir, snd, nil)
	if err := m.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	st, _ := m.Stats()
	t.Logf("reopened: %d records replayed, %d torn bytes skipped, %d windows pending", st.Replayed, st.SkippedJournalBytes, st.Pending)
	if st.SkippedJournalBytes > kills*journalMaxRecord {
		t.Fatalf("%d bytes skipped at replay; %d kills can tear at most %d records", st.SkippedJournalBytes, kills, kills)
	}
	flush(t, m)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	got := snd.total()["tn_kill"]
	extra := got.Reads - confirmedReads
	if got.Reads < confirmedReads || extra > kills {
		t.Fatalf("billed %d reads, confirmed %d (at most %d more allowed)", got.Reads, confirmedReads, kills)
	}
	// Each unconfirmed extra is the next record of its child.
	if got.IngressBytes < confirmedIngress || got.IngressBytes > confirmedIngress+extraIngress {
		t.Fatalf("billed %d ingress bytes, confirmed %d (+ at most %d)", got.IngressBytes, confirmedIngress, extraIngress)
	}
	if extra == 0 && got.IngressBytes != confirmedIngress {
		t.Fatalf("billed %d ingress bytes with no extra record, confirmed %d", got.IngressBytes, confirmedIngress)
	}
}

// lockedBuffer is an io.Writer safe for the exec copier goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b = append(l.b, p...)
	return len(p), nil
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.b)
}

// TestCloseFailureKeepsUsage: a window close whose outbox commit fails
// puts the usage back and keeps its journal pending; the next close
// consumes both generations; a crash between the two loses nothing.
func TestCloseFailureKeepsUsage(t *testing.T) {
	dir := t.TempDir()
	snd := &collectSender{}
	want := usageTally{}
	m := newTestMeter(t, dir, snd, nil)
	if err := m.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	want.record(t, m, "a", Usage{Reads: 3})
	m.failpoint = func(step string) error {
		if step == stepCommit {
			return errors.New("disk full")
		}
		return nil
	}
	if err := CloseWindow(m); err == nil || err.Error() != "disk full" {
		t.Fatalf("closeWindow = %v, want disk full", err)
	}
	if u := m.counts.take(); u["a"].Reads != 3 {
		t.Fatalf("counters after a failed close = %v, want the usage back", u)
	} else {
		m.counts.restore(u)
	}
	if gens, err := listJournals(dir); err != nil || len(gens) != 2 {
		t.Fatalf("journals after a failed close = %v, %v; want the pending one and the current one", gens, err)
	}
	want.record(t, m, "a", Usage{Reads: 4})
	// Crash now: both generations are replayed.
	if err := Crash(m); err != nil {
		t.Fatal(err)
	}
	m = newTestMeter(t, dir, snd, nil)
	if err := m.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st, _ := m.Stats(); st.Replayed != 2 {
		t.Fatalf("replayed %d records, want 2", st.Replayed)
	}
	want.record(t, m, "b", Usage{Writes: 1})
	m.failpoint = func(step string) error {
		if step == stepSync {
			return errors.New("fsync: input/output error")
		}
		return nil
	}
	if err := CloseWindow(m); err == nil {
		t.Fatal("closeWindow with a failing fsync succeeded")
	}
	m.failpoint = nil
	if err := CloseWindow(m); err != nil {
		t.Fatal(err)
	}
	if gens, err := listJournals(dir); err != nil || len(gens) != 1 {
		t.Fatalf("journals after a successful close = %v, %v; want the current one only", gens, err)
	}
	flush(t, m)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	checkBilled(t, snd, want)
}
