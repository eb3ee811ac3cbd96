// Package httpapi is the node agent's HTTP data API: routing, strict request
// decoding, authentication and role checks, translation of errors to
// {"error":{"code","message"}} answers, request metrics and the health,
// readiness, stats and cluster endpoints.
//
// Every /api/v1 route declares the role it needs (see routes); /health,
// /readyz and /api/v1/cluster/self are open; /metrics needs RoleRead unless
// Config.MetricsNoAuth. Handlers use the authenticated Principal's tenant as
// the document tenant and never read a tenant from the request.
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/agent/auth"
	"github.com/aerolithdb/aerolith/store"
)

// Store is what the API needs from the replicated store (*store.Store
// implements it).
type Store interface {
	// Propose replicates cmd and returns the state machine's result;
	// followers forward to the leader.
	Propose(ctx context.Context, cmd []byte) ([]byte, uint64, error)
	// View runs fn in a read transaction with the given consistency.
	View(ctx context.Context, c store.Consistency, fn func(tx *bolt.Tx) error) error
	// Join adds or updates a member; Remove removes one. Both are idempotent.
	Join(ctx context.Context, nodeID, raftAddr string, meta map[string]string) error
	Remove(ctx context.Context, nodeID string) error
	// Members lists the cluster configuration.
	Members(ctx context.Context) ([]store.Member, error)
	// Leader returns the current leader's id and raft address ("" if none).
	Leader() (id, raftAddr string)
	// Ready reports whether the store can serve (leader known, barrier applied).
	Ready() bool
	// Stats returns the store's current figures.
	Stats() store.Stats
}

var _ Store = (*store.Store)(nil)

// Defaults for zero Config fields.
const (
	DefaultMaxBodyBytes     = 2 << 20
	DefaultMaxDocumentBytes = 1 << 20
)

// Config configures a Server.
type Config struct {
	// Store serves reads and writes (required).
	Store Store
	// Auth identifies callers (required; use auth.Insecure{} to disable
	// authentication explicitly).
	Auth auth.Authenticator
	// NodeID, RaftAddr and HTTPAddr are this node's id and advertised
	// addresses, served by /api/v1/cluster/self and /api/v1/cluster.
	NodeID   string
	RaftAddr string
	HTTPAddr string
	// MaxBodyBytes bounds request bodies (413 above); default 2 MiB.
	MaxBodyBytes int64
	// MaxDocumentBytes bounds one document's compacted data (413 above);
	// default 1 MiB.
	MaxDocumentBytes int
	// MetricsNoAuth serves /metrics without authentication.
	MetricsNoAuth bool
	// Registerer receives the HTTP metrics; Gatherer is what /metrics
	// serves. Usually both are one *prometheus.Registry that the store
	// registers into as well. A nil Registerer gets a private registry, a
	// nil Gatherer then serves that registry.
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
	// Logger receives internal errors and panics; default slog.Default().
	Logger *slog.Logger
	// Now returns the time stamped on writes; default time.Now.
	Now func() time.Time
	// NewID generates ids for documents created without one; default docs.NewID.
	NewID func() string
}

// Server is the HTTP API of one node. It is safe for concurrent use.
type Server struct {
	cfg     Config
	log     *slog.Logger
	handler http.Handler
	metrics *metrics
	started time.Time
	// promHandler serves /metrics from Config.Gatherer.
	promHandler http.Handler
}

// handlerFunc is a route handler: it writes a success answer itself and
// returns an error for anything else.
type handlerFunc func(w http.ResponseWriter, r *http.Request, p auth.Principal) error

// route is one entry of the routing table.
type route struct {
	method  string
	pattern string
	// role the caller needs; RoleNone marks an open route (no credential).
	role auth.Role
	h    handlerFunc
}

// New checks cfg, registers the HTTP metrics and builds the routes. It does
// no I/O.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("httpapi: Store is required")
	}
	if cfg.Auth == nil {
		return nil, errors.New("httpapi: Auth is required (use auth.Insecure{} to disable authentication)")
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.MaxDocumentBytes <= 0 {
		cfg.MaxDocumentBytes = DefaultMaxDocumentBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.NewID == nil {
		cfg.NewID = newDocumentID
	}
	if cfg.Registerer == nil {
		reg := prometheus.NewRegistry()
		cfg.Registerer = reg
		if cfg.Gatherer == nil {
			cfg.Gatherer = reg
		}
	}
	if cfg.Gatherer == nil {
		return nil, errors.New("httpapi: Gatherer is required when Registerer is set")
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger.With("component", "httpapi"), metrics: m, started: cfg.Now()}
	s.promHandler = promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
	})
	s.handler = s.routes()
	return s, nil
}

// Handler returns the API's root handler.
func (s *Server) Handler() http.Handler { return s.handler }

// table lists every route with the role it needs.
func (s *Server) table() []route {
	metricsRole := auth.RoleRead
	if s.cfg.MetricsNoAuth {
		metricsRole = auth.RoleNone
	}
	const (
		open = auth.RoleNone
		read = auth.RoleRead
		rw   = auth.RoleReadWrite
		adm  = auth.RoleAdmin
	)
	return []route{
		{"GET", "/health", open, s.health},
		{"GET", "/readyz", open, s.readyz},
		{"GET", "/metrics", metricsRole, s.serveMetrics},
		{"GET", "/api/v1/cluster/self", open, s.clusterSelf},
		{"GET", "/api/v1/cluster", read, s.cluster},
		{"POST", "/api/v1/cluster/members", adm, s.joinMember},
		{"DELETE", "/api/v1/cluster/members/{id}", adm, s.removeMember},
		{"GET", "/api/v1/stats", read, s.stats},
		{"GET", "/api/v1/collections", read, s.listCollections},
		{"DELETE", "/api/v1/collections/{c}", rw, s.dropCollection},
		{"POST", "/api/v1/collections/{c}/documents", rw, s.createDocument},
		{"GET", "/api/v1/collections/{c}/documents", read, s.listDocuments},
		{"GET", "/api/v1/collections/{c}/documents/{id}", read, s.getDocument},
		{"PUT", "/api/v1/collections/{c}/documents/{id}", rw, s.putDocument},
		{"DELETE", "/api/v1/collections/{c}/documents/{id}", rw, s.deleteDocument},
		{"POST", "/api/v1/collections/{c}/query", read, s.query},
		{"GET", "/api/v1/collections/{c}/indexes", read, s.listIndexes},
		{"POST", "/api/v1/collections/{c}/indexes", rw, s.createIndex},
		{"DELETE", "/api/v1/collections/{c}/indexes/{field}", rw, s.dropIndex},
		{"POST", "/api/v1/batch", rw, s.batch},
	}
}

// routes builds the mux: each route wrapped with auth, and per path a
// fallback answering 405 with Allow, plus a catch-all 404.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	allowed := map[string][]string{}
	var paths []string
	for _, rt := range s.table() {
		mux.Handle(rt.method+" "+rt.pattern, s.wrap(rt))
		if _, ok := allowed[rt.pattern]; !ok {
			paths = append(paths, rt.pattern)
		}
		allowed[rt.pattern] = append(allowed[rt.pattern], rt.method)
		if rt.method == "GET" {
			allowed[rt.pattern] = append(allowed[rt.pattern], "HEAD")
		}
	}
	for _, p := range paths {
		allow := strings.Join(allowed[p], ", ")
		pattern := p
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			setRoute(r, pattern)
			w.Header().Set("Allow", allow)
			writeAPIError(w, newError(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "method %s not allowed on %s; allowed: %s", r.Method, pattern, allow))
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeAPIError(w, notFound("no such route: %s %s", r.Method, r.URL.Path))
	})
	return s.instrument(mux)
}

// wrap authenticates and authorizes the caller, then runs the handler and
// translates its error.
func (s *Server) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setRoute(r, rt.pattern)
		var p auth.Principal
		if rt.role != auth.RoleNone {
			var err error
			p, err = s.cfg.Auth.Authenticate(r)
			if err == nil {
				err = auth.Authorize(p, rt.role)
			}
			if err != nil {
				s.fail(w, r, err)
				return
			}
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		}
		if err := rt.h(w, r, p); err != nil {
			s.fail(w, r, err)
		}
	})
}

// fail answers with err translated; unknown errors are logged, never shown.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	e, internal := classify(err)
	if internal {
		s.log.Error("request failed", "method", r.Method, "route", routeOf(r), "err", err)
	}
	writeAPIError(w, e)
}

// reqInfo travels in the request context so the outer middleware learns the
// matched route pattern.
type reqInfo struct{ route string }

type reqInfoKey struct{}

func setRoute(r *http.Request, pattern string) {
	if ri, ok := r.Context().Value(reqInfoKey{}).(*reqInfo); ok {
		ri.route = pattern
	}
}

func routeOf(r *http.Request) string {
	if ri, ok := r.Context().Value(reqInfoKey{}).(*reqInfo); ok && ri.route != "" {
		return ri.route
	}
	return "unmatched"
}

// statusWriter records the status code written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// instrument records request metrics by route pattern, method and status,
// and turns panics into 500s.
func (s *Server) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ri := &reqInfo{}
		r = r.WithContext(context.WithValue(r.Context(), reqInfoKey{}, ri))
		sw := &statusWriter{ResponseWriter: w}
		s.metrics.inFlight.Inc()
		defer func() {
			s.metrics.inFlight.Dec()
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic serving request", "method", r.Method, "route", routeOf(r), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				if sw.status == 0 {
					writeAPIError(sw, newError(http.StatusInternalServerError, CodeInternal, "internal error"))
				}
			}
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			s.metrics.observe(routeOf(r), r.Method, status, time.Since(start))
		}()
		next.ServeHTTP(sw, r)
	})
}

// counters are plain totals served by /api/v1/stats.
type counters struct {
	total, clientErrors, serverErrors atomic.Uint64
}
