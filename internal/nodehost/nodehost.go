// Package nodehost is the process host both daemons run on, the agent
// (package agent) and the billing replica (billing/service): the steps that
// come before and around a replicated store and that were, step for step,
// the same in both. Each daemon calls them in its own order and supplies
// only what is its own: the state machine, the HTTP handler and the
// background loops.
//
// The steps follow etcd's bootstrap: each returns a value that owns what it
// opened, with a Close, and Open functions collect those in an Undo so a
// failed Open closes what it had opened, newest first.
//
//   - DataDir creates the data directory and settles the node id;
//   - Listen binds the raft and HTTP listeners and works out the addresses
//     announced to peers;
//   - Serve starts the HTTP server with the starting handler (health and
//     cluster/self answer while the store opens, so nodes started together
//     resolve each other), swapped for the daemon's handler by SetHandler;
//   - ResolveJoin turns --join addresses into raft addresses;
//   - NewRegistry is the Prometheus registry with the process, Go and TLS
//     collectors;
//   - Listeners.StoreConfig is the part of store.Config both fill the same
//     way.
package nodehost

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/aerolithdb/aerolith/internal/jsonapi"
	"github.com/aerolithdb/aerolith/internal/member"
	"github.com/aerolithdb/aerolith/internal/nodetls"
	"github.com/aerolithdb/aerolith/store"
)

// HTTP server limits.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = time.Minute
	writeTimeout      = time.Minute
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 64 << 10
	// ShutdownTimeout bounds how long Server.Shutdown waits for in-flight
	// HTTP requests before cutting them off.
	ShutdownTimeout = 10 * time.Second
)

// StoreDir is the store's directory inside the data directory.
const StoreDir = "store"

// Undo collects the closers of what a failed Open must close again.
type Undo []func()

// Add registers f, to run before every function added earlier.
func (u *Undo) Add(f func()) { *u = append(*u, f) }

// Run runs the registered functions, newest first.
func (u Undo) Run() {
	for i := len(u) - 1; i >= 0; i-- {
		u[i]()
	}
}

// DataDir creates dir (0700) and returns the node id: configured, or the
// one kept in dir, or a new one named by id (see member.Identity).
func DataDir(dir, configured string, id member.Identity) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("data-dir: %w", err)
	}
	return id.ResolveID(dir, configured)
}

// Listeners are the node's bound raft and HTTP listeners and the addresses
// announced for them.
type Listeners struct {
	Raft, HTTP net.Listener
	// RaftAddr and HTTPAddr are the advertised addresses, host:port: the
	// advertise host and the port actually bound (which differs from the
	// configured one for port 0).
	RaftAddr, HTTPAddr string
}

// Listen binds raftAddr and httpAddr. advertiseHost gives the host
// announced for a configured listen address. On error nothing stays bound.
func Listen(raftAddr, httpAddr string, advertiseHost func(listen string) (string, error)) (_ *Listeners, err error) {
	l := &Listeners{}
	defer func() {
		if err != nil {
			l.Close()
		}
	}()
	if l.Raft, err = net.Listen("tcp", raftAddr); err != nil {
		return nil, fmt.Errorf("raft-addr: %w", err)
	}
	if l.HTTP, err = net.Listen("tcp", httpAddr); err != nil {
		return nil, fmt.Errorf("http-addr: %w", err)
	}
	if l.RaftAddr, err = advertised(raftAddr, l.Raft, advertiseHost); err != nil {
		return nil, err
	}
	if l.HTTPAddr, err = advertised(httpAddr, l.HTTP, advertiseHost); err != nil {
		return nil, err
	}
	return l, nil
}

// Close closes both listeners (those not yet handed to a server or store).
func (l *Listeners) Close() {
	if l.Raft != nil {
		l.Raft.Close()
	}
	if l.HTTP != nil {
		l.HTTP.Close()
	}
}

func advertised(listen string, ln net.Listener, advertiseHost func(string) (string, error)) (string, error) {
	host, err := advertiseHost(listen)
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(host, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)), nil
}

// StoreParams are the store settings both daemons take from their
// configuration.
type StoreParams struct {
	NodeID  string
	DataDir string
	// MetaHTTPAddr is the membership metadata key under which the HTTP
	// address is announced to peers.
	MetaHTTPAddr      string
	BootstrapExpect   int
	Join              []string
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	TrailingLogs      uint64
	Logger            *slog.Logger
	Registerer        prometheus.Registerer
}

// StoreConfig returns the store configuration over these listeners; the
// daemon adds its hooks (OnMembership, OnLeadership, ...) and wraps
// Listener and Dial (TLS, fault injection).
func (l *Listeners) StoreConfig(p StoreParams) store.Config {
	return store.Config{
		NodeID:            p.NodeID,
		Dir:               filepath.Join(p.DataDir, StoreDir),
		RaftAddr:          l.Raft.Addr().String(),
		AdvertiseAddr:     l.RaftAddr,
		Listener:          l.Raft,
		Meta:              map[string]string{p.MetaHTTPAddr: l.HTTPAddr},
		BootstrapExpect:   p.BootstrapExpect,
		Join:              p.Join,
		Logger:            p.Logger,
		Registerer:        p.Registerer,
		SnapshotThreshold: p.SnapshotThreshold,
		SnapshotInterval:  p.SnapshotInterval,
		TrailingLogs:      p.TrailingLogs,
	}
}

// ResolveJoin resolves join (HTTP or raft addresses of peers) to raft
// addresses, dropping this node's own (see member.ResolveJoin); peers are
// reached with tl's scheme and client.
func (l *Listeners) ResolveJoin(ctx context.Context, log *slog.Logger, tl *nodetls.TLS, join []string) []string {
	peer := member.PeerHTTP{Scheme: tl.Scheme(), Client: tl.PeerClient(member.ProbeTimeout)}
	return member.ResolveJoin(ctx, log, peer, join, l.HTTPAddr, l.RaftAddr, member.RefusedWait)
}

// NewRegistry returns the node's Prometheus registry with the Go, process
// and TLS (certificate expiry) collectors registered.
func NewRegistry(tl *nodetls.TLS) (*prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(collectors.NewGoCollector()); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	if err := reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	if err := tl.Register(reg); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return reg, nil
}

// Server is the node's HTTP server. The handler it serves can be swapped
// while it serves (SetHandler); it is safe for concurrent use.
type Server struct {
	srv     *http.Server
	handler atomic.Pointer[http.Handler]
	log     *slog.Logger
}

// Serve serves the starting handler (jsonapi.StartingHandler of nodeID and
// the advertised addresses of ls) on ls.HTTP, over TLS when tl is set. A
// failure to serve is sent to errc when errc has room (a daemon exits on
// the first). log gets the server's own errors, at warn level.
func Serve(tl *nodetls.TLS, ls *Listeners, nodeID string, log *slog.Logger, errc chan<- error) *Server {
	s := &Server{log: log}
	s.SetHandler(jsonapi.StartingHandler(nodeID, ls.RaftAddr, ls.HTTPAddr))
	s.srv = HTTPServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*s.handler.Load()).ServeHTTP(w, r)
	}), writeTimeout)
	s.srv.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	ln := ls.HTTP
	go func() {
		if err := tl.Serve(s.srv, ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			select {
			case errc <- fmt.Errorf("http server: %w", err):
			default:
			}
		}
	}()
	return s
}

// HTTPServer returns a server of h with the node's limits on header size
// and read, idle and (given) write times, so no client holds a connection
// or a goroutine for long.
func HTTPServer(h http.Handler, writeTimeout time.Duration) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
	}
}

// SetHandler makes h the handler of every request from now on.
func (s *Server) SetHandler(h http.Handler) { s.handler.Store(&h) }

// Shutdown stops accepting and drains the requests in flight for up to
// ShutdownTimeout, then closes the connections still open.
func (s *Server) Shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		s.log.Warn("http drain timed out; closing connections", "err", err)
		s.srv.Close()
	}
}

// Close closes the server and its connections at once.
func (s *Server) Close() { s.srv.Close() }
