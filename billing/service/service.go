// Package service builds and runs one billing replica (`aerolith billing
// serve`): the replicated store with the ledger state machine, the HTTP
// API in front of it, and the billing cycle scheduler, which acts on the
// leader only.
//
// Configuration is one table of options shared by flags, AEROLITH_*
// environment variables and a YAML file, with the agent's precedence
// (flag, environment, file, default); see Config, Load and Validate.
//
// New validates and does no I/O. Open creates the data directory, settles
// the node id, listens on the raft and HTTP addresses, resolves --join,
// opens the store (which bootstraps or joins in the background), serves
// the API and starts the scheduler; it returns once serving (the steps the
// agent takes too are internal/nodehost's). Close stops
// in a fixed order: scheduler, HTTP (draining requests in flight), store.
//
// # High availability
//
// Three replicas started with --bootstrap-expect 3 --join <the three
// addresses> form one replica set; writes to a follower are forwarded to
// the leader. Only the leader schedules, and every scheduled command is
// idempotent in the ledger, so a crash or a leader change mid-run never
// bills a period twice. Every replica must run with the same --period,
// --usage-bucket and --tiers file.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/aerolithdb/aerolith/billing/api"
	"github.com/aerolithdb/aerolith/billing/ledger"
	"github.com/aerolithdb/aerolith/billing/tier"
	"github.com/aerolithdb/aerolith/internal/audit"
	"github.com/aerolithdb/aerolith/internal/member"
	"github.com/aerolithdb/aerolith/internal/nodehost"
	"github.com/aerolithdb/aerolith/internal/nodetls"
	"github.com/aerolithdb/aerolith/store"
)

// ShutdownTimeout bounds how long Close waits for in-flight HTTP requests
// before cutting them off.
const ShutdownTimeout = nodehost.ShutdownTimeout

// Service is one running billing replica. Its methods are safe for
// concurrent use.
type Service struct {
	cfg     Config
	cycle   ledger.Cycle
	catalog *tier.Catalog
	log     *slog.Logger

	// tune adjusts the store configuration just before the store is
	// created; tests shorten raft timeouts with it (servicetest.Tune).
	tune func(*store.Config)

	mu       sync.Mutex
	opened   bool
	nodeID   string
	raftAddr string
	httpAddr string
	store    *store.Store
	sched    *Scheduler
	payWatch *PaymentWatcher // nil without a configured chain
	httpSrv  *nodehost.Server
	errc     chan error
	api      *api.Server
	// auditLog is the audit log (nil with --audit-log off); audit is what
	// components record through.
	auditLog *audit.Writer
	audit    audit.Auditor
	// stopTLS stops following certificate rotations.
	stopTLS func()

	closeOnce sync.Once
	closeErr  error
}

// New validates cfg, reads the tiers file (when set) and returns a Service
// ready to Open. logger may be nil (slog.Default()).
func New(cfg Config, logger *slog.Logger) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cycle, err := cfg.Cycle()
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.Default()
	}
	s := &Service{cfg: cfg, cycle: cycle, log: logger.With("component", "billing"), errc: make(chan error, 1)}
	if cfg.TiersFile != "" {
		cat, err := tier.LoadFile(cfg.TiersFile)
		if err != nil {
			return nil, fmt.Errorf("tiers: %w", err)
		}
		s.catalog = &cat
	}
	return s, nil
}

// Open starts the replica and returns once the HTTP API serves (the
// replica set may still be forming: /readyz says when it can serve). On
// error everything opened so far is closed again.
func (s *Service) Open(ctx context.Context) (err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opened {
		return errors.New("billing: already open")
	}
	var undo nodehost.Undo
	defer func() {
		if err != nil {
			undo.Run()
		}
	}()
	nodeID, err := nodehost.DataDir(s.cfg.DataDir, s.cfg.NodeID, replicaIdentity)
	if err != nil {
		return err
	}
	if s.auditLog, err = s.openAuditLog(ctx, nodeID); err != nil {
		return err
	}
	s.audit = audit.Auditor(audit.Nop{})
	if s.auditLog != nil {
		s.audit = s.auditLog
		undo.Add(func() { s.auditLog.Close() })
	}
	tl, err := nodetls.Load(s.cfg.TLSFiles(), s.log.With("node_id", nodeID))
	if err != nil {
		return err
	}
	ls, err := nodehost.Listen(s.cfg.RaftAddr, s.cfg.HTTPAddr, s.cfg.AdvertiseHost)
	if err != nil {
		return err
	}
	undo.Add(ls.Close)
	raftAdv, httpAdv := ls.RaftAddr, ls.HTTPAddr
	s.log = s.log.With("node_id", nodeID)

	// Serve at once: /health and /api/v1/cluster/self answer while the
	// store opens, so replicas started together resolve each other.
	s.httpSrv = nodehost.Serve(tl, ls, nodeID, s.log, s.errc)
	undo.Add(s.httpSrv.Close)

	join := ls.ResolveJoin(ctx, s.log, tl, s.cfg.Join)

	reg, err := nodehost.NewRegistry(tl)
	if err != nil {
		return err
	}

	lsm, err := ledger.New(ledger.Config{UsageBucket: s.cfg.UsageBucket})
	if err != nil {
		return fmt.Errorf("usage-bucket: %w", err)
	}
	scfg := ls.StoreConfig(nodehost.StoreParams{
		NodeID:            nodeID,
		DataDir:           s.cfg.DataDir,
		MetaHTTPAddr:      api.MetaHTTPAddr,
		BootstrapExpect:   s.cfg.BootstrapExpect,
		Join:              join,
		SnapshotThreshold: uint64(s.cfg.SnapshotThreshold),
		SnapshotInterval:  s.cfg.SnapshotInterval,
		TrailingLogs:      uint64(s.cfg.TrailingLogs),
		Logger:            s.log.With("component", "store"),
		Registerer:        reg,
	})
	scfg.OnMembership = s.membershipAudit(nodeID)
	// Replicas speak mutual TLS on the raft port (node certificates).
	scfg.Listener, scfg.Dial = tl.PeerListener(ls.Raft), tl.PeerDialer(nil)
	stopTLS := tl.Start()
	undo.Add(stopTLS)
	s.stopTLS = stopTLS
	if s.tune != nil {
		s.tune(&scfg)
	}
	st, err := store.New(scfg, lsm)
	if err != nil {
		return err
	}
	if err := st.Open(ctx); err != nil {
		return err
	}
	undo.Add(func() { st.Close() })

	checkout, err := s.checkoutConfig(st)
	if err != nil {
		return err
	}
	pays, err := s.apiPayments(httpAdv)
	if err != nil {
		return err
	}
	srv, err := api.New(api.Config{
		Checkout:      checkout,
		Payments:      pays,
		Store:         st,
		AdminKeys:     s.cfg.AdminKeys,
		NodeID:        nodeID,
		RaftAddr:      raftAdv,
		HTTPAddr:      httpAdv,
		PaymentTerms:  s.cfg.PaymentTerms,
		Cycle:         s.cycle,
		MaxBodyBytes:  int64(s.cfg.MaxBodyBytes),
		MetricsNoAuth: s.cfg.MetricsNoAuth,
		Registerer:    reg,
		Gatherer:      reg,
		Logger:        s.log,
		Audit:         s.audit,
		NodeCertTTL:   s.cfg.NodeCertTTL,
	})
	if err != nil {
		return err
	}
	sched, err := NewScheduler(SchedulerConfig{
		Store:        st,
		Cycle:        s.cycle,
		Grace:        s.cfg.Grace,
		PaymentTerms: s.cfg.PaymentTerms,
		DunningGrace: s.cfg.DunningGrace,
		Interval:     s.cfg.Schedule(),
		Catalog:      s.catalog,
		Logger:       s.log,
		Registerer:   reg,
		Audit:        s.audit,
	})
	if err != nil {
		return err
	}
	s.api = srv
	h := srv.Handler()
	s.httpSrv.SetHandler(h)
	if err := sched.Open(ctx); err != nil {
		return err
	}
	if err := s.openPaymentWatcher(ctx, st, reg); err != nil {
		sched.Close()
		return err
	}
	s.record(ctx, "billing.start", nodeID, "http_addr", httpAdv, "raft_addr", raftAdv)
	s.nodeID, s.raftAddr, s.httpAddr, s.store, s.sched, s.opened = nodeID, raftAdv, httpAdv, st, sched, true
	s.log.Info("billing serving", "http_addr", httpAdv, "raft_addr", raftAdv, "bootstrap_expect", s.cfg.BootstrapExpect,
		"join", join, "period", s.cycle.String(), "grace", s.cfg.Grace, "payment_terms", s.cfg.PaymentTerms,
		"dunning_grace", s.cfg.DunningGrace, "usage_bucket", s.cfg.UsageBucket, "schedule_interval", s.cfg.Schedule(), "tls", tl != nil)
	return nil
}

// Close stops the replica: the scheduler, then the HTTP server (draining
// requests for up to ShutdownTimeout), then the store (a leader hands over
// leadership first). Close is idempotent and safe after a failed Open.
func (s *Service) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.opened {
			return
		}
		var errs []error
		if err := s.sched.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close scheduler: %w", err))
		}
		if s.payWatch != nil {
			if err := s.payWatch.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close payment watcher: %w", err))
			}
		}
		s.httpSrv.Shutdown()
		if err := s.api.FlushAudit(context.Background()); err != nil {
			errs = append(errs, fmt.Errorf("audit log: %w", err))
		}
		if err := s.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close store: %w", err))
		}
		if s.auditLog != nil {
			s.record(context.Background(), "billing.stop", s.nodeID)
			if err := s.auditLog.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close audit log: %w", err))
			}
		}
		s.stopTLS()
		s.closeErr = errors.Join(errs...)
		s.log.Info("billing stopped")
	})
	return s.closeErr
}

// Err delivers a fatal error of a background component (the HTTP server
// failing to serve). The daemon exits when it fires.
func (s *Service) Err() <-chan error { return s.errc }

// NodeID returns the replica's id (after Open).
func (s *Service) NodeID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nodeID
}

// HTTPAddr returns the advertised HTTP address, host:port (after Open).
func (s *Service) HTTPAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.httpAddr
}

// RaftAddr returns the advertised raft address, host:port (after Open).
func (s *Service) RaftAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.raftAddr
}

// Scheduler returns the replica's scheduler (after Open).
func (s *Service) Scheduler() *Scheduler {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sched
}

// replicaIdentity names billing replicas: ids generated as
// billing-<12 hex digits>.
var replicaIdentity = member.Identity{Noun: "replica", Prefix: "billing-"}
