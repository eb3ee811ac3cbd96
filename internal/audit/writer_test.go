package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fixedClock returns a clock that advances by a millisecond per call.
func fixedClock() func() time.Time {
	var mu sync.Mutex
	t := time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(time.Millisecond)
		return t
	}
}

func openWriter(t *testing.T, cfg Config) *Writer {
	t.Helper()
	if cfg.Now == nil {
		cfg.Now = fixedClock()
	}
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Open(context.Background()); err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func event(i int) Event {
	return Event{
		Actor:   Actor{Kind: "tenant_key", Tenant: "t1", KeyID: fmt.Sprintf("k%d", i%3)},
		Action:  "key.create",
		Target:  fmt.Sprintf("key:n%d", i),
		Outcome: OutcomeOK,
		Detail:  map[string]string{"role": "read", "n": fmt.Sprint(i)},
	}
}

func appendN(t *testing.T, w *Writer, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if err := w.Append(context.Background(), event(i)); err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
	}
}

// writeLog writes n records to a fresh file and returns its path.
func writeLog(t *testing.T, n int, cfg Config) string {
	t.Helper()
	if cfg.Path == "" {
		cfg.Path = filepath.Join(t.TempDir(), "audit.jsonl")
	}
	w := openWriter(t, cfg)
	appendN(t, w, 0, n)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return cfg.Path
}

func verifyPath(t *testing.T, opts VerifyOptions, path string) (Report, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return Verify(f, opts)
}

func readLines(t *testing.T, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.SplitAfter(b, []byte("\n"))
}

func TestWriterAppendsAVerifiableChain(t *testing.T) {
	path := writeLog(t, 5, Config{})
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
	}
	rep, err := verifyPath(t, VerifyOptions{}, path)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if rep.Records != 5 || rep.First.Seq != 1 || rep.Last.Seq != 5 || rep.ContinuesFrom != "" {
		t.Errorf("report = %+v, want 5 records, seq 1-5", rep)
	}
	if !rep.LastTime.After(rep.FirstTime) {
		t.Errorf("times %v..%v", rep.FirstTime, rep.LastTime)
	}
	first, err := DecodeLine(bytes.TrimSuffix(readLines(t, path)[0], []byte("\n")))
	if err != nil {
		t.Fatal(err)
	}
	if first.Prev != GenesisPrev || first.Actor.KeyID != "k0" || first.Detail["role"] != "read" {
		t.Errorf("first record = %+v", first)
	}
}

func TestAppendRejectsInvalidEvents(t *testing.T) {
	w := openWriter(t, Config{Path: filepath.Join(t.TempDir(), "a.jsonl")})
	tests := []struct {
		name string
		e    Event
		want string
	}{
		{"no action", Event{Actor: Actor{Kind: "admin"}, Outcome: OutcomeOK}, "action"},
		{"no actor", Event{Action: "x", Outcome: OutcomeOK}, "actor kind"},
		{"bad outcome", Event{Actor: Actor{Kind: "admin"}, Action: "x", Outcome: "maybe"}, "outcome"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := w.Append(context.Background(), tt.e)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Append = %v, want an error naming %s", err, tt.want)
			}
		})
	}
	if err := w.Append(context.Background(), event(1)); err != nil {
		t.Fatalf("valid append after rejected ones: %v", err)
	}
	if w.Last().Seq != 1 {
		t.Errorf("Last = %v, want seq 1", w.Last())
	}
}

func TestConcurrentWritersProduceOneChain(t *testing.T) {
	for _, interval := range []time.Duration{0, time.Millisecond} {
		t.Run(fmt.Sprintf("sync interval %v", interval), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.jsonl")
			w := openWriter(t, Config{Path: path, SyncInterval: interval, MaxSize: 8 << 10, Now: time.Now})
			const writers, each = 8, 60
			var wg sync.WaitGroup
			for g := range writers {
				wg.Go(func() {
					for i := range each {
						if err := w.Append(context.Background(), event(g*each+i)); err != nil {
							t.Errorf("Append: %v", err)
							return
						}
					}
				})
			}
			wg.Wait()
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			files := logFiles(t, path)
			if len(files) < 2 {
				t.Fatalf("%d files, want rotation under load", len(files))
			}
			rep := verifyFiles(t, VerifyOptions{}, files...)
			// Every file after the first starts with a rotation record.
			if want := writers*each + len(files) - 1; rep.Records != want || rep.Last.Seq != uint64(want) {
				t.Errorf("report %+v, want %d records", rep, want)
			}
		})
	}
}

// logFiles lists a log's files oldest first, the way a shell glob would.
func logFiles(t *testing.T, path string) []string {
	t.Helper()
	files, err := filepath.Glob(strings.TrimSuffix(path, ".jsonl") + ".*jsonl")
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// verifyFiles verifies files as one chain and fails the test on a problem.
func verifyFiles(t *testing.T, opts VerifyOptions, files ...string) Report {
	t.Helper()
	var total Report
	for i, f := range files {
		rep, err := verifyPath(t, opts, f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if i == 0 {
			total = rep
		} else {
			total.Records += rep.Records
			total.Last, total.LastTime = rep.Last, rep.LastTime
		}
		last := rep.Last
		opts.After = &last
	}
	return total
}

func TestReopenContinuesTheChain(t *testing.T) {
	path := writeLog(t, 3, Config{})
	w := openWriter(t, Config{Path: path})
	if got := w.Last().Seq; got != 3 {
		t.Fatalf("reopened Last = %d, want 3", got)
	}
	appendN(t, w, 3, 2)
	w.Close()
	rep, err := verifyPath(t, VerifyOptions{}, path)
	if err != nil || rep.Records != 5 || rep.Recovered != 0 {
		t.Fatalf("Verify = %+v, %v; want 5 records", rep, err)
	}
}

func TestReopenRepairsATornTail(t *testing.T) {
	tests := []struct {
		name        string
		damage      func(t *testing.T, path string, lines [][]byte)
		wantRecords int
		wantRepair  string
	}{
		{"half a record", func(t *testing.T, path string, lines [][]byte) {
			appendBytes(t, path, lines[1][:40])
		}, 4, "cut off"},
		{"zeros", func(t *testing.T, path string, _ [][]byte) {
			appendBytes(t, path, make([]byte, 100))
		}, 4, "cut off"},
		{"missing newline only", func(t *testing.T, path string, lines [][]byte) {
			os.Truncate(path, fileSize(t, path)-1)
		}, 4, "newline added"},
		{"the only record, torn", func(t *testing.T, path string, lines [][]byte) {
			os.Truncate(path, int64(len(lines[0])-5))
		}, 1, "cut off"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeLog(t, 3, Config{})
			tt.damage(t, path, readLines(t, path))
			if _, err := verifyPath(t, VerifyOptions{}, path); !isKind(err, KindTruncated) {
				t.Fatalf("Verify of the torn file = %v, want %s", err, KindTruncated)
			}
			w := openWriter(t, Config{Path: path})
			appendN(t, w, 10, 1)
			w.Close()
			rep, err := verifyPath(t, VerifyOptions{}, path)
			if err != nil {
				t.Fatalf("Verify after reopen: %v", err)
			}
			if rep.Records != tt.wantRecords+1 || rep.Recovered != 1 {
				t.Fatalf("report %+v, want %d records with 1 recovered", rep, tt.wantRecords+1)
			}
			lines := readLines(t, path)
			rec, _ := DecodeLine(bytes.TrimSuffix(lines[tt.wantRecords-1], []byte("\n")))
			if rec.Action != ActionRecovered || !strings.Contains(rec.Detail["repair"], tt.wantRepair) || rec.Detail["bytes"] == "" {
				t.Errorf("recovery record = %+v, want repair %q", rec, tt.wantRepair)
			}
		})
	}
}

func TestOpenRefusesACorruptFile(t *testing.T) {
	path := writeLog(t, 3, Config{})
	lines := readLines(t, path)
	lines[1] = bytes.Replace(lines[1], []byte(`"role":"read"`), []byte(`"role":"admin"`), 1)
	writeFile(t, path, bytes.Join(lines, nil))
	w, _ := New(Config{Path: path})
	err := w.Open(context.Background())
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("Open = %v, want ErrCorrupt naming line 2", err)
	}
	if err := w.Append(context.Background(), event(1)); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after failed Open = %v, want ErrClosed", err)
	}
	if got := readLines(t, path); !bytes.Equal(bytes.Join(got, nil), bytes.Join(lines, nil)) {
		t.Error("Open changed a corrupt file")
	}
}

func TestRotationChainsFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	w := openWriter(t, Config{Path: path, MaxSize: 1500})
	appendN(t, w, 0, 20)
	w.Close()
	files := logFiles(t, path)
	if len(files) < 3 || files[len(files)-1] != path {
		t.Fatalf("files %v, want several rotated files then the active one", files)
	}
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v", f, fi.Mode().Perm(), err)
		}
		if f != path && fi.Size() > 1500 {
			t.Errorf("%s: %d bytes, past MaxSize", f, fi.Size())
		}
	}
	rep := verifyFiles(t, VerifyOptions{}, files...)
	if rep.First.Seq != 1 || rep.Records != 20+len(files)-1 {
		t.Errorf("chain report %+v", rep)
	}

	// A rotated file alone verifies and says what it continues.
	alone, err := verifyPath(t, VerifyOptions{}, files[1])
	if err != nil || alone.ContinuesFrom != filepath.Base(files[0]) || alone.Rotations != 1 {
		t.Errorf("second file alone: %+v, %v; want it to continue %s", alone, err, filepath.Base(files[0]))
	}

	// Leaving out a middle file breaks the chain.
	first, _ := verifyPath(t, VerifyOptions{}, files[0])
	_, err = verifyPath(t, VerifyOptions{After: &first.Last}, files[2])
	if !isKind(err, KindStart) {
		t.Errorf("skipping a file: %v, want %s", err, KindStart)
	}

	// Reopening after rotation continues the active file.
	w = openWriter(t, Config{Path: path, MaxSize: 1500})
	appendN(t, w, 20, 1)
	w.Close()
	verifyFiles(t, VerifyOptions{}, logFiles(t, path)...)
}

func TestOpenAfterACrashDuringRotation(t *testing.T) {
	// The active file was renamed but its successor not yet created.
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	writeLog(t, 4, Config{Path: path})
	w, _ := New(Config{Path: path})
	if err := os.Rename(path, w.rotatedName(1)); err != nil {
		t.Fatal(err)
	}
	w2 := openWriter(t, Config{Path: path})
	appendN(t, w2, 4, 1)
	w2.Close()
	files := logFiles(t, path)
	rep := verifyFiles(t, VerifyOptions{}, files...)
	if len(files) != 2 || rep.Records != 6 {
		t.Errorf("files %v, report %+v: want the rotation record and one more", files, rep)
	}
}

func TestKeyedChain(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	path := writeLog(t, 4, Config{HMACKey: key})
	if _, err := verifyPath(t, VerifyOptions{HMACKey: key}, path); err != nil {
		t.Fatalf("with the key: %v", err)
	}
	for name, opts := range map[string]VerifyOptions{"no key": {}, "wrong key": {HMACKey: []byte("other")}} {
		if _, err := verifyPath(t, opts, path); !isKind(err, KindEdited) || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("%s: %v, want %s at line 1", name, err, KindEdited)
		}
	}
	// Someone without the key rewrites record 2 and recomputes a plain
	// chain from there: the keyed verification still fails at line 2.
	lines := readLines(t, path)
	prev := lineHash(bytes.TrimSuffix(lines[0], []byte("\n")))
	out := [][]byte{lines[0]}
	for _, l := range lines[1:] {
		if len(l) == 0 {
			continue
		}
		r, _ := DecodeLine(bytes.TrimSuffix(l, []byte("\n")))
		r.Detail["role"] = "admin"
		r.Prev = prev
		b := hasher{}.seal(&r)
		prev = lineHash(b)
		out = append(out, append(b, '\n'))
	}
	writeFile(t, path, bytes.Join(out, nil))
	if _, err := verifyPath(t, VerifyOptions{HMACKey: key}, path); !isKind(err, KindEdited) || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("forged chain: %v, want %s at line 2", err, KindEdited)
	}
	if _, err := verifyPath(t, VerifyOptions{}, path); !isKind(err, KindEdited) {
		t.Errorf("forged chain without key: %v (line 1 stays keyed)", err)
	}
}

func TestSecretsNeverWritten(t *testing.T) {
	const (
		adminKey = "adm-9f8e7d6c5b4a"
		apiKey   = "ak_live_0123456789"
		bearer   = "Bearer tok-abcdef123"
		password = "hunter2-very-secret"
	)
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	w := openWriter(t, Config{Path: path, Secrets: []string{adminKey, ""}})
	events := []Event{
		{Actor: Actor{Kind: "admin", KeyID: "admin"}, Action: "key.create", Target: "tenant:t1", Outcome: OutcomeOK,
			Detail: map[string]string{"api_key": apiKey, "Authorization": bearer, "Password": password, "client_secret": password,
				"refresh-token": apiKey, "key_id": "k1", "role": "readwrite", "header": bearer, "session_cookie": apiKey}},
		{Actor: Actor{Kind: "anonymous", KeyID: bearer, Addr: "10.0.0.1:5555"}, Action: "auth.failed", Target: "/api/v1/x?key=" + adminKey,
			Outcome: OutcomeDenied, Detail: map[string]string{"reason": "wrong key " + adminKey, "presented": adminKey}},
	}
	for _, e := range events {
		if err := w.Append(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{adminKey, apiKey, "tok-abcdef123", password} {
		if bytes.Contains(b, []byte(s)) {
			t.Errorf("log contains secret %q:\n%s", s, b)
		}
	}
	lines := readLines(t, path)
	r, _ := DecodeLine(bytes.TrimSuffix(lines[0], []byte("\n")))
	if r.Detail["key_id"] != "k1" || r.Detail["role"] != "readwrite" {
		t.Errorf("identifiers dropped: %v", r.Detail)
	}
	if got, want := r.Detail["redacted"], "Authorization,Password,api_key,client_secret,header,refresh-token,session_cookie"; got != want {
		t.Errorf("redacted = %q, want %q", got, want)
	}
	if _, err := verifyPath(t, VerifyOptions{}, path); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

func TestRecordsStaySmall(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	w := openWriter(t, Config{Path: path})
	detail := map[string]string{}
	for i := range 40 {
		detail[fmt.Sprintf("k%02d", i)] = strings.Repeat("é", 1000)
	}
	e := Event{Actor: Actor{Kind: "admin"}, Action: "x", Target: strings.Repeat("t", 5000), Outcome: OutcomeOK, Detail: detail}
	if err := w.Append(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	w.Close()
	lines := readLines(t, path)
	if len(lines[0]) > 16<<10 {
		t.Errorf("record is %d bytes", len(lines[0]))
	}
	r, err := DecodeLine(bytes.TrimSuffix(lines[0], []byte("\n")))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Detail) != MaxDetailEntries-1 || r.Detail["dropped"] == "" || !strings.HasSuffix(r.Target, "…") {
		t.Errorf("detail has %d entries (dropped %q), target %d bytes", len(r.Detail), r.Detail["dropped"], len(r.Target))
	}
}

func TestCloseAndSync(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	w := openWriter(t, Config{Path: path, SyncInterval: time.Hour})
	appendN(t, w, 0, 3)
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	second, _ := New(Config{Path: path})
	if err := second.Open(context.Background()); err == nil || !strings.Contains(err.Error(), "another writer") {
		t.Errorf("second writer's Open = %v, want it refused", err)
		second.Close()
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if err := w.Append(context.Background(), event(9)); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close = %v, want ErrClosed", err)
	}
	if err := second.Open(context.Background()); err != nil {
		t.Errorf("Open after the first writer closed: %v", err)
	}
	second.Close()
	for _, tt := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "path"},
		{Config{Path: path, HMACKey: []byte("short")}, "hmac key"},
		{Config{Path: path, SyncInterval: -1}, "sync interval"},
	} {
		if _, err := New(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v) = %v, want an error naming %s", tt.cfg, err, tt.want)
		}
	}
}

func isKind(err error, k Kind) bool {
	var ve *VerifyError
	return errors.As(err, &ve) && ve.Kind == k
}

func appendBytes(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
