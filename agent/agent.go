// Package agent builds and runs one Aerolith node: the replicated store with
// the agent's state machine (StateMachine: documents and tenancy), and the
// HTTP data API in front of it.
//
// New validates the configuration and does no I/O. Open creates the data
// directory, settles the node id (see config), with --tls-bootstrap obtains
// the node certificate from billing (see bootstrap.go), listens on the raft
// and HTTP addresses, resolves --join addresses or discovers the members
// (--discover; waiting for --bootstrap-expect of them), opens the store
// (which bootstraps or joins in the background) and serves the API; it
// returns once serving. The steps a billing replica takes too (data
// directory, listeners, starting HTTP server, --join, registry, store
// settings) are internal/nodehost's.
// Close stops in a fixed order: stop accepting HTTP requests and drain those
// in flight, close the store (a leader hands over leadership first), which
// closes its files.
//
// # Managed mode
//
// With --billing-url (and --enrollment-token) the agent is managed by the
// billing service:
//
//   - Enrollment: the node asks billing who its token is (GET
//     /api/v1/whoami → cluster id and tenants), retrying with backoff until
//     billing answers, keeps the answer in <data-dir>/enrollment.json (so a
//     restart during a billing outage knows its tenants at once) and
//     registers itself (POST /api/v1/clusters/{id}/nodes with its
//     addresses). Until then it serves reads and refuses tenants' writes
//     (no_policy), and /readyz answers 503.
//   - Policies: a policy.Fetcher keeps each tenant's signed policy, verified
//     with --billing-public-key or the key billing serves on first contact,
//     refreshed every --policy-refresh, and saved in the replicated tenancy
//     state (tenancy.NewPolicyStore), so every node enforces the last good
//     policy through a billing outage and across restarts.
//   - Quotas: one quota.Enforcer per tenant, (re)built on each policy, with
//     the cluster-wide limits shared among the live nodes (see liveness.go
//     for the count and its error bound); the document state machine
//     enforces storage, collection and document limits from the stored
//     policy (tenancy.Limits) inside Apply.
//   - Keys: tenant API keys (tenancy.Keys, through raft; the API's
//     /api/v1/keys routes, `aerolith key`), authenticated after the cluster
//     admin key by tenancy's Authenticator, which also refuses the key ids a
//     tenant's policy revokes.
//   - Metering: a meter.Meter (outbox under <data-dir>/meter, windows of
//     --meter-window) records every metered request (httpapi), integrates
//     each tenant's stored bytes while this node leads (store leadership →
//     SetLeader; docs OnStorage and a seeding read, see storagefeed.go) and
//     ships the windows to billing with the enrollment token.
//
// /readyz answers 503 until the node is enrolled and holds every tenant's
// policy. /metrics adds aerolith_meter_*, aerolith_policy_*, aerolith_quota_*
// and aerolith_billing_* figures (no tenant labels). Close then runs: HTTP
// drain, the background loops, meter (writes the partial window to the
// outbox), policy fetcher, store.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"github.com/aerolithdb/aerolith/agent/auth"
	"github.com/aerolithdb/aerolith/agent/config"
	"github.com/aerolithdb/aerolith/agent/document"
	"github.com/aerolithdb/aerolith/agent/httpapi"
	"github.com/aerolithdb/aerolith/agent/tenancy"
	"github.com/aerolithdb/aerolith/internal/audit"
	"github.com/aerolithdb/aerolith/internal/jsonapi"
	"github.com/aerolithdb/aerolith/internal/member"
	"github.com/aerolithdb/aerolith/internal/nodehost"
	"github.com/aerolithdb/aerolith/internal/nodetls"
	"github.com/aerolithdb/aerolith/store"
)

// ShutdownTimeout bounds how long Close waits for in-flight HTTP requests
// before cutting them off.
const ShutdownTimeout = nodehost.ShutdownTimeout

// Agent is one running node. Its methods are safe for concurrent use.
type Agent struct {
	cfg  config.Config
	base *slog.Logger // what components derive their loggers from
	log  *slog.Logger // base with component=agent
	auth auth.Authenticator

	mu       sync.Mutex
	opened   bool
	nodeID   string
	raftAddr string // advertised
	httpAddr string // advertised
	store    *store.Store
	managed  *managed // nil unless managed by billing
	httpSrv  *nodehost.Server
	pprofSrv *http.Server // nil unless --pprof-addr
	api      *httpapi.Server
	// auditLog is the audit log (nil when --audit-log off); audit is what
	// components record through (the log, or audit.Nop).
	auditLog *audit.Writer
	audit    audit.Auditor
	// stopFaults stops the fault-injection signal watcher (test builds).
	stopFaults func()
	// tls is the node's TLS (nil with --insecure-http); stopTLS stops
	// following certificate rotations.
	tls     *nodetls.TLS
	stopTLS func()
	// stopRenew stops renewing a --tls-bootstrap certificate (nil
	// otherwise).
	stopRenew func()
	// enc is encryption at rest (nil without --master-key-file).
	enc  *encryption
	errc chan error

	closeOnce sync.Once
	closeErr  error
}

// New validates cfg and returns an Agent ready to Open. logger may be nil
// (slog.Default()).
func New(cfg config.Config, logger *slog.Logger) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.Default()
	}
	var authn auth.Authenticator = auth.Insecure{}
	if !cfg.InsecureNoAuth {
		k, err := auth.NewAdminKey(cfg.AdminKey)
		if err != nil {
			return nil, fmt.Errorf("admin-key: %w", err)
		}
		authn = k
	}
	return &Agent{cfg: cfg, base: logger, log: logger.With("component", "agent"), auth: authn, errc: make(chan error, 1)}, nil
}

// Open starts the node and returns once the HTTP API serves (the cluster may
// still be forming: /readyz says when it can serve data). On error
// everything opened so far is closed again.
func (a *Agent) Open(ctx context.Context) (err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.opened {
		return errors.New("agent: already open")
	}
	var undo nodehost.Undo
	defer func() {
		if err != nil {
			undo.Run()
		}
	}()

	nodeID, err := nodehost.DataDir(a.cfg.DataDir, a.cfg.NodeID, nodeIdentity)
	if err != nil {
		return err
	}
	var boot *bootstrapBilling
	var enroller *certEnroller
	if a.cfg.TLSBootstrap {
		if boot, err = newBootstrapBilling(a.cfg, nil, a.base.With("node_id", nodeID)); err != nil {
			return err
		}
		var hosts []string
		for _, listen := range []string{a.cfg.RaftAddr, a.cfg.HTTPAddr} {
			h, err := a.cfg.AdvertiseHost(listen)
			if err != nil {
				return err
			}
			hosts = append(hosts, h)
		}
		hosts = append(hosts, a.cfg.TLSBootstrapSAN...)
		enroller = newCertEnroller(a.cfg, boot, nodeID, hosts, a.base.With("node_id", nodeID))
		if err := enroller.ensure(ctx); err != nil {
			return err
		}
	}
	tl, err := nodetls.Load(a.cfg.TLSFiles(), a.base.With("node_id", nodeID))
	if err != nil {
		return err
	}

	ls, err := nodehost.Listen(a.cfg.RaftAddr, a.cfg.HTTPAddr, a.cfg.AdvertiseHost)
	if err != nil {
		return err
	}
	undo.Add(ls.Close)
	raftAdv, httpAdv := ls.RaftAddr, ls.HTTPAddr
	nodeLog := a.base.With("node_id", nodeID)
	a.log = nodeLog.With("component", "agent")
	if a.auditLog, err = openAuditLog(ctx, a.cfg, nodeLog); err != nil {
		return err
	}
	a.audit = audit.Auditor(audit.Nop{})
	if a.auditLog != nil {
		a.audit = a.auditLog
		undo.Add(func() { a.auditLog.Close() })
	}

	// Serve right away: /health and /api/v1/cluster/self answer while the
	// store opens, so peers started together can resolve our HTTP address.
	a.httpSrv = nodehost.Serve(tl, ls, nodeID, a.log, a.errc)
	undo.Add(a.httpSrv.Close)
	if a.cfg.PprofAddr != "" {
		srv, err := servePprof(a.cfg.PprofAddr, a.log)
		if err != nil {
			return err
		}
		a.pprofSrv = srv
		undo.Add(func() { srv.Close() })
	}

	var join []string
	if a.cfg.Discover != "" {
		if boot == nil && a.cfg.Managed() {
			if boot, err = newBootstrapBilling(a.cfg, tl, nodeLog); err != nil {
				return err
			}
		}
		if join, err = discoverJoin(ctx, a.cfg, boot, nodeID, httpAdv, raftAdv, nodeLog); err != nil {
			return err
		}
	} else {
		join = ls.ResolveJoin(ctx, a.log, tl, a.cfg.Join)
	}

	reg, err := nodehost.NewRegistry(tl)
	if err != nil {
		return err
	}

	docsCfg := document.Config{MaxDocumentBytes: a.cfg.MaxDocumentBytes, Limits: tenancy.Limits, Logger: nodeLog}
	tsm := tenancy.NewStateMachine()
	tsm.SetLogger(nodeLog.With("component", "tenancy"))
	var mgd *managed
	sm := NewStateMachine(nil, tsm)
	if a.cfg.Managed() {
		if mgd, err = newManaged(a.cfg, nodeID, sm, nodeLog, tl); err != nil {
			return err
		}
		mgd.audit = a.audit
		// Every node enforces the policies the replicated state holds, as
		// it applies them (a suspension saved by another node's fetcher
		// holds here once that save returned).
		tsm.OnPolicy(mgd.gov.onPolicy)
		if err := mgd.openMeter(ctx); err != nil {
			return err
		}
		undo.Add(func() { mgd.closeMeter() })
		docsCfg.OnStorage = mgd.feed.onStorage
		if err := reg.Register(newManagedCollector(mgd)); err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
	}
	enc, err := newEncryption(a.cfg.MasterKeyFile, nodeLog)
	if err != nil {
		return err
	}
	if enc != nil {
		docsCfg.Sealer = enc.kr
		sm.keyring = enc.sm
	}
	sm.docs = document.NewStateMachine(docsCfg)
	scfg := ls.StoreConfig(nodehost.StoreParams{
		NodeID:            nodeID,
		DataDir:           a.cfg.DataDir,
		MetaHTTPAddr:      httpapi.MetaHTTPAddr,
		BootstrapExpect:   a.cfg.BootstrapExpect,
		Join:              join,
		SnapshotThreshold: uint64(a.cfg.SnapshotThreshold),
		SnapshotInterval:  a.cfg.SnapshotInterval,
		TrailingLogs:      uint64(a.cfg.TrailingLogs),
		Logger:            a.base, // the store adds component and node_id
		Registerer:        reg,
	})
	if mgd != nil {
		scfg.OnLeadership = mgd.onLeadership
	}
	if enc != nil {
		scfg.MasterKey = enc.master
	}
	scfg.OnMembership = membershipAuditor(a.audit, nodeID, nodeLog)
	if faultsEnabled {
		iso := newIsolator()
		scfg.Listener, scfg.Dial = iso.listener(ls.Raft), iso.dial
		stop := startFaults(a.log, iso)
		undo.Add(stop)
		a.stopFaults = stop
	}
	// TLS on top of the isolator: the raft port and the internal RPC
	// speak mutual TLS between nodes of the cluster.
	scfg.Listener, scfg.Dial = tl.PeerListener(scfg.Listener), tl.PeerDialer(scfg.Dial)
	a.tls, a.stopTLS = tl, tl.Start()
	undo.Add(a.stopTLS)
	a.stopRenew = func() {}
	if enroller != nil {
		rctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); enroller.run(rctx, tl.Reloader()) }()
		a.stopRenew = func() { cancel(); <-done }
		undo.Add(a.stopRenew)
	}
	st, err := store.New(scfg, sm)
	if err != nil {
		return err
	}
	if err := st.Open(ctx); err != nil {
		return err
	}
	undo.Add(func() { st.Close() })
	reportUnaddressable(ctx, st, nodeLog.With("component", "docs"))
	var apiStore httpapi.Store = st
	var reader *document.Reader
	if enc != nil {
		if err := enc.start(st, nodeLog); err != nil {
			return err
		}
		undo.Add(enc.stop)
		apiStore, reader = sealingStore{Store: st, mgr: enc.mgr}, document.NewReader(enc.kr)
	}

	apiCfg := httpapi.Config{
		Store:            apiStore,
		Docs:             reader,
		Auth:             a.auth,
		NodeID:           nodeID,
		RaftAddr:         raftAdv,
		HTTPAddr:         httpAdv,
		MaxBodyBytes:     int64(a.cfg.MaxBodyBytes),
		MaxDocumentBytes: a.cfg.MaxDocumentBytes,
		MetricsNoAuth:    a.cfg.MetricsNoAuth,
		Registerer:       reg,
		Gatherer:         reg,
		Logger:           nodeLog,
		Audit:            a.audit,
	}
	if enc != nil {
		apiCfg.DataKeys = enc.mgr
	}
	if mgd != nil {
		apiCfg.Managed = true
		keys := tenancy.NewAuthenticator(st, mgd.gov.revoked)
		keys.UseGeneration(tsm.KeyGeneration)
		keys.UseLease(tenancy.Lease)
		// Tenant keys first: they are told by their prefix, so the admin
		// key's hash is computed only for other tokens.
		apiCfg.Auth = auth.Chain{servedOnly{Authenticator: keys, serves: mgd.serves, refresh: mgd.refreshNow}, a.auth}
		apiCfg.Governor = mgd.gov
		apiCfg.Meter = mgd.meter
		apiCfg.Keys = &keyManager{Keys: tenancy.NewKeys(st, st), serves: mgd.serves, refresh: mgd.refreshNow}
	}
	api, err := httpapi.New(apiCfg)
	if err != nil {
		return err
	}
	a.api = api
	h := api.Handler()
	if mgd != nil {
		mgd.start(st, httpAdv, raftAdv)
		undo.Add(mgd.stop)
		h = managedReadyz(h, mgd)
	}
	a.httpSrv.SetHandler(h)

	a.nodeID, a.raftAddr, a.httpAddr, a.store, a.managed, a.opened = nodeID, raftAdv, httpAdv, st, mgd, true
	a.enc = enc
	recordLifecycle(ctx, a.audit, "agent.start", nodeID, a.log, "http_addr", httpAdv, "raft_addr", raftAdv, "auth", authMode(a.cfg))
	a.log.Info("agent serving", "http_addr", httpAdv, "raft_addr", raftAdv,
		"bootstrap_expect", a.cfg.BootstrapExpect, "join", join, "auth", authMode(a.cfg), "billing", a.cfg.BillingURL, "tls", tl != nil, "encryption_at_rest", enc != nil)
	return nil
}

func authMode(c config.Config) string {
	switch {
	case c.InsecureNoAuth:
		return "none (insecure-no-auth)"
	case c.Managed():
		return "admin-key, tenant api keys"
	}
	return "admin-key"
}

// managedReadyz answers GET /readyz of a managed agent: 503 while the node
// is not enrolled or lacks a tenant's policy, else what next says (the
// store's readiness).
func managedReadyz(next http.Handler, m *managed) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/readyz" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			if why := m.readiness(); why != "" {
				jsonapi.ErrorWriter{Realm: "aerolith"}.Write(w, http.StatusServiceUnavailable, jsonapi.CodeUnavailable, why)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// Close stops the node: the HTTP server stops accepting and drains
// in-flight requests (for up to ShutdownTimeout); a managed agent then stops
// its background loops, closes its meter (writing the partial window to the
// outbox) and its policy fetcher; last the store closes (transferring
// leadership if this node leads) and with it its files.
// Close is idempotent and safe to call after a failed Open.
func (a *Agent) Close() error {
	a.closeOnce.Do(func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		if !a.opened {
			return
		}
		var errs []error
		a.httpSrv.Shutdown()
		if a.pprofSrv != nil {
			a.pprofSrv.Close()
		}
		if a.stopFaults != nil {
			defer a.stopFaults()
		}
		defer a.stopTLS()
		a.stopRenew()
		if m := a.managed; m != nil {
			m.stop()
			if err := m.closeMeter(); err != nil {
				errs = append(errs, err)
			}
			if err := m.closeFetcher(); err != nil {
				errs = append(errs, err)
			}
		}
		a.enc.stop()
		if err := a.api.FlushAudit(context.Background()); err != nil {
			errs = append(errs, fmt.Errorf("audit log: %w", err))
		}
		if err := a.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close store: %w", err))
		}
		if a.auditLog != nil {
			recordLifecycle(context.Background(), a.auditLog, "agent.stop", a.nodeID, a.log)
			if err := a.auditLog.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close audit log: %w", err))
			}
		}
		a.closeErr = errors.Join(errs...)
		a.log.Info("agent stopped")
	})
	return a.closeErr
}

// Err delivers a fatal error of a background component (the HTTP server
// failing to serve). The daemon exits when it fires.
func (a *Agent) Err() <-chan error { return a.errc }

// NodeID returns the node's id (after Open).
func (a *Agent) NodeID() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.nodeID
}

// HTTPAddr returns the advertised HTTP address, host:port (after Open).
func (a *Agent) HTTPAddr() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.httpAddr
}

// RaftAddr returns the advertised raft address, host:port (after Open).
func (a *Agent) RaftAddr() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.raftAddr
}

// nodeIdentity names agent nodes: ids generated as node-<12 hex digits>.
var nodeIdentity = member.Identity{Noun: "node", Prefix: "node-"}
