// Package clienttest provides an in-memory implementation of the agent's
// HTTP data API contract, for testing code that uses agent/client (the CLI,
// benchmarks' harnesses) without starting a cluster.
//
// The fake keeps documents in memory, enforces the bearer key, versions and
// If-Match preconditions, applies batches atomically and evaluates the
// common part of the filter language ($eq $ne $gt $gte $lt $lte $in $nin
// $exists $and $or $not, dot paths). It is not a replacement for the real
// agent's query engine.
package clienttest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aerolithdb/aerolith/agent/client"
)

// DefaultLimit is the page size the fake uses when a request names none.
const DefaultLimit = 100

// Request is what the fake recorded about one request it served.
type Request struct {
	Method string
	Path   string
	Query  string
	// IfMatch and Authorization are the raw header values.
	IfMatch       string
	Authorization string
	Body          []byte
}

// Server is the fake agent. Create it with NewServer; it is safe for
// concurrent use.
type Server struct {
	// URL is the base URL of the running httptest server.
	URL string

	srv *httptest.Server
	key string

	mu       sync.Mutex
	colls    map[string]*collection
	cluster  client.ClusterStatus
	requests []Request
	clock    time.Time
	seq      int
}

type collection struct {
	docs    map[string]*client.Document
	indexes []string
}

// NewServer starts a fake agent requiring key as bearer key (no auth when
// key is empty) and reporting a one-node cluster. Close it when done.
func NewServer(key string) *Server {
	s := &Server{
		key:   key,
		colls: map[string]*collection{},
		clock: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	s.srv = httptest.NewServer(s.routes())
	s.URL = s.srv.URL
	host := strings.TrimPrefix(s.URL, "http://")
	s.cluster = client.ClusterStatus{
		NodeID:       "node1",
		LeaderID:     "node1",
		Leader:       &client.Node{ID: "node1", RaftAddr: "127.0.0.1:7071", HTTPAddr: host},
		State:        "Leader",
		Term:         2,
		CommitIndex:  10,
		AppliedIndex: 10,
		Members:      []client.Member{{ID: "node1", RaftAddr: "127.0.0.1:7071", HTTPAddr: host, Voter: true, Leader: true}},
	}
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Requests returns the requests served so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Document returns a stored document (nil when absent).
func (s *Server) Document(collection, id string) *client.Document {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.colls[collection]
	if c == nil || c.docs[id] == nil {
		return nil
	}
	d := *c.docs[id]
	return &d
}

// Count returns how many documents collection holds.
func (s *Server) Count(collection string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.colls[collection]; c != nil {
		return len(c.docs)
	}
	return 0
}

// SetCluster replaces the cluster status the fake reports.
func (s *Server) SetCluster(st client.ClusterStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cluster = st
}

// apiError is written as the contract's error body.
type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func errf(status int, code, format string, args ...any) *apiError {
	return &apiError{status, code, fmt.Sprintf(format, args...)}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, err error) {
	var e *apiError
	if !errors.As(err, &e) {
		e = errf(http.StatusInternalServerError, client.CodeInternal, "internal error")
	}
	if e.status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	if e.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", "Bearer")
	}
	writeJSON(w, e.status, map[string]any{"error": map[string]string{"code": e.code, "message": e.msg}})
}

type handler func(w http.ResponseWriter, r *http.Request, body []byte) error

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	open := func(pattern string, h handler) { mux.Handle(pattern, s.wrap(h, false)) }
	authed := func(pattern string, h handler) { mux.Handle(pattern, s.wrap(h, true)) }
	open("GET /health", func(w http.ResponseWriter, r *http.Request, _ []byte) error {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		return nil
	})
	open("GET /readyz", func(w http.ResponseWriter, r *http.Request, _ []byte) error {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
		return nil
	})
	authed("POST /api/v1/collections/{c}/documents", s.create)
	authed("GET /api/v1/collections/{c}/documents", s.list)
	authed("GET /api/v1/collections/{c}/documents/{id}", s.get)
	authed("PUT /api/v1/collections/{c}/documents/{id}", s.put)
	authed("DELETE /api/v1/collections/{c}/documents/{id}", s.delete)
	authed("POST /api/v1/collections/{c}/query", s.query)
	authed("GET /api/v1/collections", s.collections)
	authed("DELETE /api/v1/collections/{c}", s.dropCollection)
	authed("POST /api/v1/collections/{c}/indexes", s.createIndex)
	authed("GET /api/v1/collections/{c}/indexes", s.listIndexes)
	authed("DELETE /api/v1/collections/{c}/indexes/{field}", s.dropIndex)
	authed("POST /api/v1/batch", s.batch)
	authed("GET /api/v1/stats", s.stats)
	authed("GET /api/v1/cluster", s.clusterStatus)
	authed("POST /api/v1/cluster/members", s.join)
	authed("DELETE /api/v1/cluster/members/{id}", s.remove)
	authed("/", func(w http.ResponseWriter, r *http.Request, _ []byte) error {
		return errf(http.StatusNotFound, client.CodeNotFound, "no route %s %s", r.Method, r.URL.Path)
	})
	return refuseDotSegments(mux)
}

// refuseDotSegments answers 400, as the agent does, to a path with a ".",
// ".." or empty segment (also percent-encoded), which ServeMux would
// answer with a redirect to the cleaned path.
func refuseDotSegments(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		segs := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/")
		for i, seg := range segs {
			if v, err := url.PathUnescape(seg); err == nil && (v == "." || v == ".." || v == "" && i < len(segs)-1) {
				writeErr(w, errf(http.StatusBadRequest, client.CodeInvalidArgument, "path segment %q cannot be used: it is resolved away in URL paths", v))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) wrap(h handler, auth bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := readBody(r)
		if err != nil {
			writeErr(w, err)
			return
		}
		s.mu.Lock()
		s.requests = append(s.requests, Request{
			Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
			IfMatch: r.Header.Get("If-Match"), Authorization: r.Header.Get("Authorization"), Body: body,
		})
		s.mu.Unlock()
		if auth && s.key != "" && r.Header.Get("Authorization") != "Bearer "+s.key {
			writeErr(w, errf(http.StatusUnauthorized, client.CodeUnauthenticated, "missing or invalid API key"))
			return
		}
		switch r.URL.Query().Get("consistency") {
		case "", "linearizable", "leader", "stale":
		default:
			writeErr(w, errf(http.StatusBadRequest, client.CodeInvalidArgument, "consistency: unknown value %q", r.URL.Query().Get("consistency")))
			return
		}
		if err := h(w, r, body); err != nil {
			writeErr(w, err)
		}
	})
}

const maxBody = 2 << 20

func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	var buf bytes.Buffer
	n, err := buf.ReadFrom(http.MaxBytesReader(nil, r.Body, maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errf(http.StatusRequestEntityTooLarge, client.CodeTooLarge, "request body over %d bytes", maxBody)
		}
		return nil, errf(http.StatusBadRequest, client.CodeInvalidArgument, "read body: %v", err)
	}
	if n == 0 {
		return nil, nil
	}
	return buf.Bytes(), nil
}

// decodeStrict decodes body into v rejecting unknown fields.
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return errf(http.StatusBadRequest, client.CodeInvalidArgument, "invalid JSON body: %v", err)
	}
	if dec.More() {
		return errf(http.StatusBadRequest, client.CodeInvalidArgument, "invalid JSON body: more than one value")
	}
	return nil
}

func checkObject(data json.RawMessage) error {
	t := bytes.TrimSpace(data)
	if len(t) == 0 || t[0] != '{' {
		return errf(http.StatusBadRequest, client.CodeInvalidArgument, "data: must be a JSON object")
	}
	return nil
}

func compact(data json.RawMessage) json.RawMessage {
	var buf bytes.Buffer
	if err := json.Compact(&buf, data); err != nil {
		return data
	}
	return buf.Bytes()
}

func pageParams(r *http.Request) (limit, offset int, err error) {
	limit, offset = DefaultLimit, 0
	if v := r.URL.Query().Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 0 {
			return 0, 0, errf(http.StatusBadRequest, client.CodeInvalidArgument, "limit: must be a non-negative integer")
		}
	}
	if v := r.URL.Query().Get("offset"); v != "" {
		if offset, err = strconv.Atoi(v); err != nil || offset < 0 {
			return 0, 0, errf(http.StatusBadRequest, client.CodeInvalidArgument, "offset: must be a non-negative integer")
		}
	}
	if limit == 0 {
		limit = DefaultLimit
	}
	return limit, offset, nil
}

func ifMatch(r *http.Request) (uint64, bool, error) {
	v := strings.Trim(strings.TrimSpace(r.Header.Get("If-Match")), `"`)
	if v == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, false, errf(http.StatusBadRequest, client.CodeInvalidArgument, "If-Match: %q is not a version", v)
	}
	return n, true, nil
}

func (s *Server) now() time.Time {
	s.clock = s.clock.Add(time.Millisecond)
	return s.clock
}
