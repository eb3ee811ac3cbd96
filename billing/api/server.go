// Package api is the billing service's HTTP API: routing, authentication
// (admin keys, tenant read keys, cluster enrollment tokens), strict request
// decoding, translation of ledger and store errors to
// {"error":{"code","message"}} answers, request metrics, and the health,
// readiness and replica endpoints. Writes are ledger commands proposed
// through the store (followers forward them to the leader); reads run on
// the local replica, linearizable unless ?consistency=leader|stale.
//
// # Credentials
//
// Every /api/v1 route except /api/v1/cluster/self needs
// "Authorization: Bearer <credential>":
//
//   - an admin key (--admin-key): every operation;
//   - a tenant key (POST /api/v1/tenants/{id}/keys {"role":"tenant"}, by
//     an admin): acts for its own tenant: what a read key reads, plus
//     its tenant's profile and tier (PATCH), its billing keys (read keys
//     only are created with it) and agent key revocations, and the
//     clusters it registers, which its tenant then owns: read, add or
//     remove its own tenant, read the CA, deregister. Another tenant's
//     records and clusters answer 404; creating, suspending or deleting
//     tenants, invoices and payments and the replica routes answer 403;
//   - a tenant read key (POST /api/v1/tenants/{id}/keys): reads of its own
//     tenant only (tenant record, usage, invoices, payments, audit, policy);
//     other tenants answer 404, admin operations 403;
//   - a cluster enrollment token (POST /api/v1/clusters): POST
//     /api/v1/usage, the policy of the tenants the cluster serves, its own
//     cluster record and tenants (GET /api/v1/clusters/{id}[/tenants]) and
//     the registration of its nodes (POST /api/v1/clusters/{id}/nodes).
//     Only an admin (or, for its own tenant on its own cluster, a tenant
//     key) changes the tenants a cluster serves (POST|DELETE
//     /api/v1/clusters/{id}/tenants/{tenant}).
//
// Every /api/v1 route refuses query parameters it does not take (400
// naming them; see query.go).
//
// Pricing (GET /api/v1/payment/pricing) and the policy public key accept
// any credential.
//
// # Routes
//
// See the table in routes.go. Set-tier is PATCH /api/v1/tenants/{id}
// {"tier"} (with organization, name and email the other patchable
// fields); the change is prorated by the second within the period.
// DELETE /api/v1/tenants/{id}/agent-keys/{key} revokes a data API key of
// the tenant on every agent through its policy; DELETE
// /api/v1/tenants/{id}/keys/{key} revokes a billing read key.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/billing/ledger"
	"github.com/aerolithdb/aerolith/billing/tier"
	"github.com/aerolithdb/aerolith/internal/audit"
	"github.com/aerolithdb/aerolith/internal/jsonapi"
	"github.com/aerolithdb/aerolith/store"
)

// Store is what the API needs from the replicated store (*store.Store
// implements it); its state machine must be the ledger's.
type Store = jsonapi.Replica

var _ Store = (*store.Store)(nil)

// Defaults for zero Config fields.
const (
	DefaultMaxBodyBytes = 4 << 20
	DefaultPaymentTerms = 14 * 24 * time.Hour
)

// MetaHTTPAddr is the store member metadata key holding a replica's
// advertised HTTP address.
const MetaHTTPAddr = jsonapi.MetaHTTPAddr

// Config configures a Server.
type Config struct {
	// Store serves reads and writes (required). Its state machine must be
	// the ledger's (ledger.New).
	Store Store
	// AdminKeys are the billing admin bearer keys (at least one).
	AdminKeys []string
	// NodeID, RaftAddr and HTTPAddr are this replica's id and advertised
	// addresses, served by /api/v1/cluster/self and /api/v1/cluster.
	NodeID   string
	RaftAddr string
	HTTPAddr string
	// Cycle is the billing period the scheduler drafts invoices for (the
	// service's --period; zero: calendar months), which the invoice list
	// uses to say when a tenant's open period ends.
	Cycle ledger.Cycle
	// PaymentTerms is the time from finalization to the due date of an
	// invoice finalized through the API without a due date (default 14
	// days).
	PaymentTerms time.Duration
	// MaxBodyBytes bounds request bodies (413 above); default 4 MiB.
	MaxBodyBytes int64
	// MetricsNoAuth serves /metrics without authentication.
	MetricsNoAuth bool
	// Registerer receives the HTTP metrics; Gatherer is what /metrics
	// serves. A nil Registerer gets a private registry (and a nil Gatherer
	// then serves it).
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
	// Logger receives internal errors and panics; default slog.Default().
	Logger *slog.Logger
	// Now is the clock stamped on commands; default time.Now.
	Now func() time.Time
	// Audit records refused credentials (coalesced per address and reason
	// per minute) and every mutating call with its outcome (see audit.go).
	// Nil records nothing.
	Audit audit.Auditor
	// NodeCertTTL is how long the node certificates of clusters' CAs are
	// valid (certificates.go); zero means DefaultNodeCertTTL.
	NodeCertTTL time.Duration
	// Checkout configures the hosted checkout page (checkout.go).
	Checkout CheckoutConfig
	// Payments serves the /api/v1/payment endpoints (payment_config.go);
	// nil: they answer 503 (pricing excepted).
	Payments *Payments
}

// Server is the HTTP API of one billing replica. It is safe for concurrent
// use.
type Server struct {
	cfg     Config
	log     *slog.Logger
	admin   *adminKeys
	handler http.Handler
	metrics *metrics
	// auditAgg coalesces repeated authentication failures.
	auditAgg *audit.Coalescer
	// probe reads the chains for the checkout page (nil: no chain).
	probe *checkoutProbe
}

// handlerFunc is a route handler: it writes a success answer itself and
// returns an error for anything else.
type handlerFunc func(w http.ResponseWriter, r *http.Request, p principal) error

// route is one entry of the routing table.
type route struct {
	method, pattern string
	access          kind // kindNone: open
	h               handlerFunc
}

// New checks cfg, registers the metrics and builds the routes. It does no
// I/O.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("api: Store is required")
	}
	admin, err := newAdminKeys(cfg.AdminKeys)
	if err != nil {
		return nil, err
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.PaymentTerms <= 0 {
		cfg.PaymentTerms = DefaultPaymentTerms
	}
	if cfg.Audit == nil {
		cfg.Audit = audit.Nop{}
	}
	if cfg.NodeCertTTL == 0 {
		cfg.NodeCertTTL = DefaultNodeCertTTL
	}
	if cfg.NodeCertTTL < MinNodeCertTTL {
		return nil, fmt.Errorf("api: NodeCertTTL %s is shorter than %s", cfg.NodeCertTTL, MinNodeCertTTL)
	}
	if cfg.Registerer, cfg.Gatherer, err = jsonapi.Registries(cfg.Registerer, cfg.Gatherer); err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger.With("component", "billing-api"), admin: admin, metrics: m}
	s.auditAgg = audit.NewCoalescer(cfg.Audit, 0, 0)
	s.auditAgg.Now = cfg.Now
	s.probe = newCheckoutProbe(cfg.Checkout, s.log)
	s.handler = s.routes()
	return s, nil
}

// Handler returns the API's root handler.
func (s *Server) Handler() http.Handler { return s.handler }

// routes builds the mux: each route wrapped with authentication, per path
// a fallback answering 405 with Allow, and a catch-all 404.
func (s *Server) routes() http.Handler {
	table := s.table()
	routes := make([]jsonapi.Route, len(table))
	for i, rt := range table {
		routes[i] = jsonapi.Route{Method: rt.method, Pattern: rt.pattern, Handler: s.wrap(rt)}
	}
	return jsonapi.Handler(routes, s.metrics, s.log, errorWriter())
}

// wrap authenticates and authorizes the caller, bounds the body, then runs
// the handler and translates its error.
func (s *Server) wrap(rt route) http.Handler {
	action := auditedRoutes[rt.method+" "+rt.pattern]
	params, checked := queryParams(rt)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		jsonapi.SetRoute(r, rt.pattern)
		var p principal
		if rt.access != open {
			var err error
			p, err = s.authenticate(r.Context(), r)
			if err == nil {
				err = authorize(p, rt.access)
			}
			if err != nil {
				s.auditAuth(rt, r, p, err)
				s.fail(w, r, err)
				return
			}
		}
		if checked {
			// After authentication: an anonymous caller learns nothing
			// of a route's parameters.
			if err := checkQuery(r, params); err != nil {
				s.fail(w, r, err)
				return
			}
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		}
		serve := func(w http.ResponseWriter, r *http.Request) {
			if err := rt.h(w, r, p); err != nil {
				s.fail(w, r, err)
			}
		}
		if action != "" {
			s.auditRoute(action, rt, w, r, p, serve)
			return
		}
		serve(w, r)
	})
}

// fail answers with err translated; unknown errors are logged, never shown.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	classifier().Fail(w, r, s.log, errorWriter(), err)
}

// propose replicates a ledger command stamped with now and p as actor, and
// returns its result; an application failure is returned as the error too.
func (s *Server) propose(ctx context.Context, cmd ledger.Command) (ledger.Result, error) {
	b, err := ledger.Encode(cmd)
	if err != nil {
		return ledger.Result{}, err
	}
	out, _, err := s.cfg.Store.Propose(ctx, b)
	if err != nil {
		return ledger.Result{}, err
	}
	res, err := ledger.DecodeResult(out)
	if err != nil {
		return ledger.Result{}, err
	}
	return res, res.Error()
}

// header returns a command header stamped now by p.
func (s *Server) header(p principal) ledger.Header {
	return ledger.Header{Time: s.cfg.Now().UnixNano(), Actor: p.actor()}
}

// view runs fn with the consistency the request asks for
// (?consistency=linearizable|leader|stale; default linearizable).
func (s *Server) view(r *http.Request, fn func(tx *bolt.Tx) error) error {
	c, err := store.ParseConsistency(r.URL.Query().Get("consistency"))
	if err != nil {
		return jsonapi.Invalid("consistency: %v", err)
	}
	return s.cfg.Store.View(r.Context(), c, fn)
}

// catalog returns the tier catalog in force.
func (s *Server) catalog(r *http.Request) (tier.Catalog, error) {
	var cat tier.Catalog
	err := s.view(r, func(tx *bolt.Tx) error {
		var err error
		cat, err = ledger.Catalog(tx)
		return err
	})
	return cat, err
}
