package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/billing/ledger"
	"github.com/aerolithdb/aerolith/internal/jsonapi"
	"github.com/aerolithdb/aerolith/store"
	"github.com/aerolithdb/aerolith/store/storetest"
)

const (
	adminKey  = "admin-key-0123456789abcdef"
	adminKey2 = "second-admin-key-0123456789"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// env is one billing replica in process: a single-node store with the
// ledger's state machine, the API on an httptest server and a test clock.
type env struct {
	t     *testing.T
	st    *store.Store
	srv   *Server
	http  *httptest.Server
	clock *clock
}

func newEnv(t *testing.T, mods ...func(*Config)) *env {
	t.Helper()
	c := storetest.NewCluster(t, 1, storetest.WithStateMachine(func(int) store.StateMachine {
		lsm, err := ledger.New(ledger.Config{UsageBucket: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		return lsm
	}))
	st := c.Leader()
	clk := &clock{t: time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)}
	cfg := Config{
		Store: st, AdminKeys: []string{adminKey, adminKey2}, NodeID: "n0", RaftAddr: st.Addr(), HTTPAddr: "127.0.0.1:1",
		Logger: storetest.TestLogger(), Now: clk.Now, PaymentTerms: 14 * 24 * time.Hour,
	}
	for _, m := range mods {
		m(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	e := &env{t: t, st: st, srv: srv, http: hs, clock: clk}
	var seed [32]byte
	seed[0] = 7
	e.propose(ledger.SetSigningKey{Header: ledger.Header{Time: clk.Now().UnixNano(), Actor: "test"}, Seed: seed})
	return e
}

// propose applies a ledger command directly through the store.
func (e *env) propose(cmd ledger.Command) ledger.Result {
	e.t.Helper()
	b, err := ledger.Encode(cmd)
	if err != nil {
		e.t.Fatal(err)
	}
	out, _, err := e.st.Propose(context.Background(), b)
	if err != nil {
		e.t.Fatal(err)
	}
	res, err := ledger.DecodeResult(out)
	if err != nil {
		e.t.Fatal(err)
	}
	if res.Err != nil {
		e.t.Fatalf("propose %s: %v", cmd.Kind(), res.Err)
	}
	return res
}

// resp is an answer.
type resp struct {
	status int
	header http.Header
	body   []byte
}

// errCode returns the error code of an error answer.
func (r resp) errCode() string {
	var b jsonapi.ErrorBody
	_ = json.Unmarshal(r.body, &b)
	return b.Error.Code
}

func (r resp) errMsg() string {
	var b jsonapi.ErrorBody
	_ = json.Unmarshal(r.body, &b)
	return b.Error.Message
}

// do sends one request; body may be a string (sent raw), nil or a value
// (JSON-encoded).
func (e *env) do(method, path, key string, body any) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.http.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := e.http.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

// want sends a request, checks the status and decodes the answer into out.
func (e *env) want(status int, method, path, key string, body, out any) resp {
	e.t.Helper()
	r := e.do(method, path, key, body)
	if r.status != status {
		e.t.Fatalf("%s %s = %d %s, want %d", method, path, r.status, r.body, status)
	}
	if out != nil {
		if err := json.Unmarshal(r.body, out); err != nil {
			e.t.Fatalf("%s %s: decode %s: %v", method, path, r.body, err)
		}
	}
	return r
}

// tenant creates a tenant on tierName and returns it.
func (e *env) tenant(name, tierName string) ledger.Tenant {
	e.t.Helper()
	var t ledger.Tenant
	e.want(201, "POST", "/api/v1/tenants", adminKey, map[string]string{
		"organization": name + " Inc", "name": name, "tier": tierName, "email": "billing@" + name + ".example",
	}, &t)
	return t
}

// cluster registers a cluster for tenants and returns its enrollment.
func (e *env) cluster(id string, tenants ...string) clusterOut {
	e.t.Helper()
	var out clusterOut
	e.want(201, "POST", "/api/v1/clusters", adminKey, map[string]any{"cluster_id": id, "tenants": tenants}, &out)
	return out
}

// readKey creates a tenant read key.
func (e *env) readKey(tenant string) keyOut {
	e.t.Helper()
	var k keyOut
	e.want(201, "POST", "/api/v1/tenants/"+tenant+"/keys", adminKey, map[string]string{"name": "ci"}, &k)
	return k
}

// doHeader sends a body-less request with a raw Authorization header.
func (e *env) doHeader(method, path, authorization string) resp {
	e.t.Helper()
	req, err := http.NewRequest(method, e.http.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	res, err := e.http.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}
}
