package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/agent/auth"
	"github.com/aerolithdb/aerolith/agent/document"
	"github.com/aerolithdb/aerolith/internal/jsonapi"
	"github.com/aerolithdb/aerolith/store"
)

// Keys the test authenticator knows.
const (
	adminKey  = "admin-key-0123456789"
	readKey   = "read-key"
	rwKey     = "rw-key"
	acmeKey   = "acme-rw-key" // readwrite in another tenant
	wrongKey  = "not-a-key"
	testNode  = "n1"
	testHTTP  = "127.0.0.1:17070"
	maxDoc    = 1 << 10
	maxBody   = 4 << 10
	waitLimit = 30 * time.Second
)

// staticKeys authenticates a fixed set of tenant-scoped bearer keys, the way
// tenant keys will plug in next to the admin key.
type staticKeys map[string]auth.Principal

func (k staticKeys) Authenticate(r *http.Request) (auth.Principal, error) {
	tok, err := auth.BearerToken(r)
	if err != nil {
		return auth.Principal{}, err
	}
	p, ok := k[tok]
	if !ok {
		return auth.Principal{}, auth.ErrOtherCredential // so a Chain tells what a later authenticator said
	}
	return p, nil
}

// faultStore wraps the real store and injects the states a healthy
// single-node test cluster never reaches.
type faultStore struct {
	Store
	mu       sync.Mutex
	err      error // returned by Propose and View when set
	notReady bool
	noLeader bool
	removed  bool
	// viewGate, when set, holds every View until it is closed, like a
	// long scan that cannot be interrupted.
	viewGate chan struct{}
}

func (f *faultStore) setRemoved(removed bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.removed = removed
}

func (f *faultStore) Stats() store.Stats {
	st := f.Store.Stats()
	f.mu.Lock()
	defer f.mu.Unlock()
	st.Removed = st.Removed || f.removed
	return st
}

func (f *faultStore) fault() (error, bool, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err, f.notReady, f.noLeader
}

func (f *faultStore) set(err error, notReady, noLeader bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err, f.notReady, f.noLeader = err, notReady, noLeader
}

func (f *faultStore) Propose(ctx context.Context, cmd []byte) ([]byte, uint64, error) {
	if err, _, _ := f.fault(); err != nil {
		return nil, 0, err
	}
	return f.Store.Propose(ctx, cmd)
}

func (f *faultStore) setViewGate(g chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.viewGate = g
}

func (f *faultStore) View(ctx context.Context, c store.Consistency, fn func(*bolt.Tx) error) error {
	if err, _, _ := f.fault(); err != nil {
		return err
	}
	f.mu.Lock()
	gate := f.viewGate
	f.mu.Unlock()
	if gate != nil {
		<-gate
	}
	return f.Store.View(ctx, c, fn)
}

func (f *faultStore) Join(ctx context.Context, nodeID, raftAddr string, meta map[string]string) error {
	if err, _, _ := f.fault(); err != nil {
		return err
	}
	return f.Store.Join(ctx, nodeID, raftAddr, meta)
}

func (f *faultStore) Ready() bool {
	if _, notReady, _ := f.fault(); notReady {
		return false
	}
	return f.Store.Ready()
}

func (f *faultStore) Leader() (string, string) {
	if _, _, noLeader := f.fault(); noLeader {
		return "", ""
	}
	return f.Store.Leader()
}

type env struct {
	t      testing.TB
	store  *store.Store
	faults *faultStore
	srv    *Server
	reg    *prometheus.Registry
	logs   *logBuffer
}

// openStore starts a real single-node store with the document state machine.
func openStore(t testing.TB, reg prometheus.Registerer) *store.Store {
	t.Helper()
	return openStoreWith(t, reg, document.NewStateMachine(document.Config{MaxDocumentBytes: maxDoc}))
}

// openStoreWith starts a real single-node store with the state machine sm.
func openStoreWith(t testing.TB, reg prometheus.Registerer, sm store.StateMachine) *store.Store {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.New(store.Config{
		NodeID:     testNode,
		Dir:        t.TempDir(),
		Listener:   ln,
		Meta:       map[string]string{MetaHTTPAddr: testHTTP},
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		Registerer: reg,
	}, sm)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := st.Open(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for !st.Ready() {
		if err := st.WaitForLeader(ctx); err != nil {
			t.Fatalf("store never became ready: %v", err)
		}
		select {
		case <-ctx.Done():
			t.Fatal("store never became ready")
		case <-time.After(10 * time.Millisecond):
		}
	}
	return st
}

type logBuffer struct {
	mu sync.Mutex
	b  *strings.Builder
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func newEnv(t testing.TB, mods ...func(*Config)) *env {
	t.Helper()
	return newEnvSM(t, document.NewStateMachine(document.Config{MaxDocumentBytes: maxDoc}), mods...)
}

// newEnvSM is newEnv with the store's state machine sm. mods see
// Config.Store set.
func newEnvSM(t testing.TB, sm store.StateMachine, mods ...func(*Config)) *env {
	t.Helper()
	reg := prometheus.NewRegistry()
	st := openStoreWith(t, reg, sm)
	fs := &faultStore{Store: st}
	logs := &logBuffer{b: &strings.Builder{}}
	cfg := Config{
		Store: fs,
		Auth: auth.Chain{mustAdminKey(t), staticKeys{
			readKey: {Tenant: auth.DefaultTenant, Role: auth.RoleRead, KeyID: "r"},
			rwKey:   {Tenant: auth.DefaultTenant, Role: auth.RoleReadWrite, KeyID: "rw"},
			acmeKey: {Tenant: "acme", Role: auth.RoleReadWrite, KeyID: "acme"},
		}},
		NodeID:           testNode,
		RaftAddr:         st.Addr(),
		HTTPAddr:         testHTTP,
		MaxBodyBytes:     maxBody,
		MaxDocumentBytes: maxDoc,
		Registerer:       reg,
		Gatherer:         reg,
		Logger:           slog.New(slog.NewTextHandler(logs, nil)),
	}
	for _, m := range mods {
		m(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, store: st, faults: fs, srv: srv, reg: reg, logs: logs}
}

func mustAdminKey(t testing.TB) *auth.AdminKey {
	t.Helper()
	k, err := auth.NewAdminKey(adminKey)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// resp is a recorded answer.
type resp struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a generic value.
func (r resp) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.Body, err)
	}
	return m
}

// ErrCode returns the code of an error answer, checking its shape.
func (r resp) ErrCode(t *testing.T) (code, message string) {
	t.Helper()
	var b jsonapi.ErrorBody
	dec := json.NewDecoder(strings.NewReader(string(r.Body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil || b.Error.Code == "" || b.Error.Message == "" {
		t.Fatalf("body %q is not an error body: %v", r.Body, err)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error Content-Type = %q", ct)
	}
	return b.Error.Code, b.Error.Message
}

// do sends a request with key as bearer key ("" for none) and headers given
// as name, value pairs.
func (e *env) do(method, path, key, body string, headers ...string) resp {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(rec, req)
	return resp{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
}

// must sends a request and fails the test unless the status is want.
func (e *env) must(want int, method, path, key, body string, headers ...string) resp {
	e.t.Helper()
	r := e.do(method, path, key, body, headers...)
	if r.Status != want {
		e.t.Fatalf("%s %s = %d %s, want %d; logs:\n%s", method, path, r.Status, r.Body, want, e.logs)
	}
	return r
}
