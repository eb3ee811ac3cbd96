package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/aerolithdb/aerolith/agent/auth"
	"github.com/aerolithdb/aerolith/agent/document"
	"github.com/aerolithdb/aerolith/internal/audit"
	"github.com/aerolithdb/aerolith/internal/jsonapi"
	"github.com/aerolithdb/aerolith/store"
)

// Store is what the API needs from the replicated store (*store.Store
// implements it).
type Store interface {
	jsonapi.Replica
	// Join adds or updates a member; Remove removes one. Both are idempotent.
	Join(ctx context.Context, nodeID, raftAddr string, meta map[string]string) error
	Remove(ctx context.Context, nodeID string) error
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
	// NewID generates ids for documents created without one; default document.NewID.
	NewID func() string

	// Managed marks an agent serving tenants (enrolled with billing):
	// /metrics needs the cluster admin key, /api/v1/stats shows a tenant
	// key only its tenant's figures (no store or node-wide request
	// figures), and the cluster admin key is refused (403) on the data
	// routes (documents, collections, indexes, queries, batches): data
	// belongs to billing's tenants and is reached with their keys. It
	// cannot be combined with MetricsNoAuth.
	Managed bool
	// Governor gives the quota enforcer of a tenant. Its error wraps
	// policy.ErrNoPolicy when no policy was ever obtained: then reads are
	// served and writes answer 503 "no_policy". A nil Governor (unmanaged
	// agent) enforces nothing.
	Governor Governor
	// Meter receives one Usage per metered request of a tenant key (see
	// the package comment); nil meters nothing.
	Meter Meter
	// Keys manages tenant API keys behind /api/v1/keys; nil answers those
	// routes 404 "not_managed".
	Keys Keys
	// Audit records security-relevant events (see audit.go): refused
	// credentials and quota refusals (coalesced per source and minute),
	// key, member, collection and index changes. Nil records nothing.
	Audit audit.Auditor
	// Docs reads documents (opening those sealed by encryption at rest);
	// nil reads plaintext documents.
	Docs *document.Reader
	// DataKeys manages data keys of encryption at rest behind
	// /api/v1/admin/data-keys; nil answers 404 "not_encrypted".
	DataKeys DataKeys
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
	// sleep waits a throttle delay (tests replace it).
	sleep func(ctx context.Context, d time.Duration) error
	// auditAgg coalesces repeated auth failures and quota refusals.
	auditAgg *audit.Coalescer
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
	// kind classifies the route for quotas and metering.
	kind routeKind
	// clusterOnly reserves the route to the cluster admin: a tenant key is
	// refused whatever its role.
	clusterOnly bool
	h           handlerFunc
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
	if cfg.Audit == nil {
		cfg.Audit = audit.Nop{}
	}
	var err error
	if cfg.Registerer, cfg.Gatherer, err = jsonapi.Registries(cfg.Registerer, cfg.Gatherer); err != nil {
		return nil, fmt.Errorf("httpapi: %w", err)
	}
	if cfg.Managed && cfg.MetricsNoAuth {
		return nil, errors.New("httpapi: MetricsNoAuth cannot be set on a managed agent (/metrics needs the cluster admin key there); unset it")
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger.With("component", "httpapi"), metrics: m, started: cfg.Now(), sleep: sleepContext}
	s.auditAgg = audit.NewCoalescer(cfg.Audit, 0, 0)
	s.auditAgg.Now = cfg.Now
	s.promHandler = promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
	})
	s.handler = s.routes()
	return s, nil
}

// Handler returns the API's root handler.
func (s *Server) Handler() http.Handler { return s.handler }

// table lists every route with the role it needs and its kind. Documents
// (get, list, query) need read; writing documents (put, delete, batch)
// needs readwrite; the shape of the tenant's data (dropping a collection,
// creating or dropping an index) and its keys need admin. Cluster topology
// (members, raft addresses, indexes) is the cluster admin's: /api/v1/cluster
// and /api/v1/stats show a tenant key only what is its own (see cluster and
// stats).
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
	metricsKind := kindMeta
	if metricsRole == open {
		metricsKind = kindOpen
	}
	return []route{
		{"GET", "/health", open, kindOpen, false, s.health},
		{"GET", "/readyz", open, kindOpen, false, s.readyz},
		{"GET", "/metrics", metricsRole, metricsKind, s.cfg.Managed, s.serveMetrics},
		{"GET", "/api/v1/cluster/self", open, kindOpen, false, s.clusterSelf},
		{"GET", "/api/v1/cluster", read, kindMeta, false, s.cluster},
		{"POST", "/api/v1/cluster/members", adm, kindMeta, true, s.joinMember},
		{"DELETE", "/api/v1/cluster/members/{id}", adm, kindMeta, true, s.removeMember},
		{"GET", "/api/v1/stats", read, kindMeta, false, s.stats},
		{"POST", "/api/v1/keys", adm, kindMeta, false, s.createKey},
		{"GET", "/api/v1/keys", adm, kindMeta, false, s.listKeys},
		{"DELETE", "/api/v1/keys/{id}", adm, kindMeta, false, s.revokeKey},
		{"GET", "/api/v1/collections", read, kindRead, false, s.listCollections},
		{"PUT", "/api/v1/collections/{c}", rw, kindWrite, false, s.createCollection},
		{"DELETE", "/api/v1/collections/{c}", adm, kindWrite, false, s.dropCollection},
		{"POST", "/api/v1/collections/{c}/documents", rw, kindWrite, false, s.createDocument},
		{"GET", "/api/v1/collections/{c}/documents", read, kindRead, false, s.listDocuments},
		{"GET", "/api/v1/collections/{c}/documents/{id}", read, kindRead, false, s.getDocument},
		{"PUT", "/api/v1/collections/{c}/documents/{id}", rw, kindWrite, false, s.putDocument},
		{"DELETE", "/api/v1/collections/{c}/documents/{id}", rw, kindWrite, false, s.deleteDocument},
		{"POST", "/api/v1/collections/{c}/query", read, kindQuery, false, s.query},
		{"GET", "/api/v1/collections/{c}/indexes", read, kindRead, false, s.listIndexes},
		{"POST", "/api/v1/collections/{c}/indexes", adm, kindWrite, false, s.createIndex},
		{"DELETE", "/api/v1/collections/{c}/indexes/{field}", adm, kindWrite, false, s.dropIndex},
		{"POST", "/api/v1/batch", rw, kindWrite, false, s.batch},
		{"GET", "/api/v1/admin/data-keys", adm, kindMeta, true, s.dataKeyStatus},
		{"POST", "/api/v1/admin/data-keys/rotate", adm, kindMeta, true, s.rotateDataKeys},
		{"GET", "/api/v1/admin/meter/dead-letters", adm, kindMeta, true, s.deadLetters},
		{"POST", "/api/v1/admin/meter/dead-letters/replay", adm, kindMeta, true, s.replayDeadLetters},
	}
}

// routes builds the mux: each route wrapped with auth, and per path a
// fallback answering 405 with Allow, plus a catch-all 404.
func (s *Server) routes() http.Handler {
	table := s.table()
	routes := make([]jsonapi.Route, len(table))
	for i, rt := range table {
		routes[i] = jsonapi.Route{Method: rt.method, Pattern: rt.pattern, Handler: s.wrap(rt)}
	}
	return jsonapi.Handler(routes, s.metrics, s.log, errorWriter(), jsonapi.WildcardNames(map[string]string{"c": "collection"}))
}

// wrap authenticates and authorizes the caller, then runs the handler and
// translates its error. Requests of tenant keys go through the quota and
// metering step when the agent has a Governor or a Meter.
func (s *Server) wrap(rt route) http.Handler {
	governed := s.cfg.Governor != nil || s.cfg.Meter != nil
	action := auditedRoutes[rt.method+" "+rt.pattern]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		jsonapi.SetRoute(r, rt.pattern)
		var p auth.Principal
		if rt.role != auth.RoleNone {
			var err error
			p, err = s.cfg.Auth.Authenticate(r)
			switch {
			case err != nil:
			case rt.clusterOnly && !isClusterAdmin(p):
				// Said first: no tenant role would do.
				err = errClusterAdminOnly
			default:
				err = auth.Authorize(p, rt.role)
			}
			if err == nil && s.cfg.Managed && rt.tenantData() && isClusterAdmin(p) {
				err = errAdminNoData
			}
			if err != nil {
				s.auditAuth(r, rt, p, err)
				s.fail(w, r, err)
				return
			}
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		}
		serve := func(w http.ResponseWriter, r *http.Request) {
			if governed && rt.kind != kindOpen && !isClusterAdmin(p) {
				s.serveTenant(w, r, rt, p)
				return
			}
			if err := rt.h(w, r, p); err != nil {
				s.fail(w, r, err)
			}
		}
		if action != "" {
			s.auditRoute(action, w, r, p, serve)
			return
		}
		serve(w, r)
	})
}

// errAdminNoData refuses the cluster admin key on a data route of a managed
// agent: its principal's tenant ("default") is no tenant billing knows, so
// its data would be neither governed nor billed, and no tenant key could
// reach it.
var errAdminNoData = fmt.Errorf("%w: on a managed agent the cluster admin key manages the cluster (members, keys, metrics) and reaches no tenant's data; use a tenant key for data (create one with: aerolith key create --tenant <tenant> --role readwrite)", auth.ErrPermissionDenied)

// tenantData reports whether the route reads or changes a tenant's data
// (documents, collections, indexes, queries, batches).
func (rt route) tenantData() bool {
	return rt.kind == kindRead || rt.kind == kindWrite || rt.kind == kindQuery
}

// errClusterAdminOnly refuses a tenant key on a cluster-wide route.
var errClusterAdminOnly = fmt.Errorf("%w: this operation needs the cluster admin key; tenant keys cannot use it whatever their role", auth.ErrPermissionDenied)

// fail answers with err translated and returns the answer; unknown errors
// are logged, never shown.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) *jsonapi.Error {
	return classifier().Fail(w, r, s.log, errorWriter(), err)
}
