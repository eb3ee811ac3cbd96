// Package nodetls wires TLS into a node process, an agent or a billing
// replica: the --tls-cert, --tls-key and --tls-ca files (or the explicit
// --insecure-http), the raft port's mutual TLS (listener and dialer for
// store.Config), the HTTPS server of the API, the HTTP client for calls to
// peers (join resolution, liveness probes), and certificate rotation
// without downtime (the files are polled, and SIGHUP reloads them at once;
// new connections use the new certificate, open ones keep working).
//
// Trust model: one CA per cluster (internal/pki). Every node holds a node
// certificate of that CA, used both ways on the raft port: a peer must
// present a node certificate of the same cluster, and the dialer checks
// that the peer's certificate names the address it dialed (IP or DNS SAN).
// Failed handshakes on the raft port are logged (warn) and counted in
// aerolith_tls_handshake_failures_total.
package nodetls

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/aerolithdb/aerolith/internal/pki"
)

// Option names shared by the agent's and billing's configuration tables.
const (
	FlagCert         = "tls-cert"
	FlagKey          = "tls-key"
	FlagCA           = "tls-ca"
	FlagPollInterval = "tls-poll-interval"
	FlagInsecureHTTP = "insecure-http"
)

// Files are a node's TLS settings as configured.
type Files struct {
	// Cert and Key are the node certificate (from `aerolith cert issue`)
	// and its key; CA is the cluster's CA bundle.
	Cert, Key, CA string
	// InsecureHTTP serves plain HTTP and plain raft; it must be asked for
	// explicitly and excludes the files.
	InsecureHTTP bool
	// PollInterval is how often the files are checked for changes; zero
	// means pki.DefaultPollInterval.
	PollInterval time.Duration
}

// Enabled reports whether TLS is configured (any file set).
func (f Files) Enabled() bool { return f.Cert != "" || f.Key != "" || f.CA != "" }

// Validate checks the settings and that the files exist. Errors start
// with the option's name and say how to fix it.
func (f Files) Validate() error {
	if f.InsecureHTTP && f.Enabled() {
		return fmt.Errorf("%s: cannot be combined with %s, %s and %s; drop --%s to serve TLS, or the TLS files to serve plain HTTP", FlagInsecureHTTP, FlagCert, FlagKey, FlagCA, FlagInsecureHTTP)
	}
	if !f.InsecureHTTP && !f.Enabled() {
		return fmt.Errorf("%s: required (with %s and %s): give this node's certificate (aerolith cert issue), or pass --%s to serve plain HTTP and raft without encryption", FlagCert, FlagKey, FlagCA, FlagInsecureHTTP)
	}
	if f.PollInterval < 0 {
		return fmt.Errorf("%s: must not be negative", FlagPollInterval)
	}
	if f.InsecureHTTP {
		return nil
	}
	for _, x := range []struct{ name, path string }{{FlagCert, f.Cert}, {FlagKey, f.Key}, {FlagCA, f.CA}} {
		if x.path == "" {
			return fmt.Errorf("%s: required with TLS (%s, %s and %s go together; or pass --%s)", x.name, FlagCert, FlagKey, FlagCA, FlagInsecureHTTP)
		}
		if _, err := os.Stat(x.path); err != nil {
			return fmt.Errorf("%s: %v", x.name, err)
		}
	}
	return nil
}

// TLS is a node's loaded TLS material and the pieces built on it. A nil
// *TLS means plain HTTP (--insecure-http); its methods then return plain
// equivalents. Methods are safe for concurrent use.
type TLS struct {
	r        *pki.Reloader
	log      *slog.Logger
	failures *prometheus.CounterVec
	server   *tls.Config
	peer     *tls.Config // raft listener
}

// Load loads the files of f (which Validate accepted) and returns nil for
// plain HTTP. The node certificate must be valid now and chain to the CA
// bundle; errors name the bad file.
func Load(f Files, log *slog.Logger) (*TLS, error) {
	if f.InsecureHTTP {
		return nil, nil
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "tls")
	interval := f.PollInterval
	if interval == 0 {
		interval = pki.DefaultPollInterval
	}
	r, err := pki.LoadReloader(pki.ReloaderConfig{CertFile: f.Cert, KeyFile: f.Key, CAFile: f.CA, Interval: interval, Logger: log})
	if err != nil {
		return nil, err
	}
	t := &TLS{
		r: r, log: log,
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aerolith_tls_handshake_failures_total",
			Help: "TLS handshakes refused or failed, by port (raft: peers' mutual TLS)",
		}, []string{"port"}),
	}
	if t.server, err = pki.ServerConfig(r, pki.ServerOptions{}); err != nil {
		return nil, fmt.Errorf("%s: %w", FlagCert, err)
	}
	if t.peer, err = pki.ServerConfig(r, pki.ServerOptions{RequireNode: true}); err != nil {
		return nil, fmt.Errorf("%s: %w", FlagCert, err)
	}
	if _, err := pki.ClientConfig(r, pki.ClientOptions{RequireNode: true}); err != nil {
		return nil, fmt.Errorf("%s: %w", FlagCA, err)
	}
	return t, nil
}

// Reloader returns the certificate source (nil for plain HTTP).
func (t *TLS) Reloader() *pki.Reloader {
	if t == nil {
		return nil
	}
	return t.r
}

// Scheme is "https", or "http" for plain HTTP.
func (t *TLS) Scheme() string {
	if t == nil {
		return "http"
	}
	return "https"
}

// Register adds the handshake failure counter and the certificate's expiry
// (aerolith_tls_certificate_expiry_timestamp_seconds) to reg.
func (t *TLS) Register(reg prometheus.Registerer) error {
	if t == nil {
		return nil
	}
	if err := reg.Register(t.failures); err != nil {
		return err
	}
	return reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "aerolith_tls_certificate_expiry_timestamp_seconds",
		Help: "When the node certificate in use expires (Unix time)",
	}, func() float64 { return float64(t.r.NotAfter().Unix()) }))
}

// PeerListener wraps the raft port's listener: every accepted connection
// is a TLS server connection demanding a node certificate of the cluster.
// The handshake runs on the first Read (under the store's header
// deadline); a failed one is logged and counted, and fails that Read.
func (t *TLS) PeerListener(ln net.Listener) net.Listener {
	if t == nil {
		return ln
	}
	return &peerListener{Listener: ln, t: t}
}

type peerListener struct {
	net.Listener
	t *TLS
}

func (l *peerListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &handshakeConn{Conn: tls.Server(c, l.t.peer), t: l.t}, nil
}

// handshakeConn runs the server handshake explicitly on first use so a
// refusal is reported before the connection is dropped.
type handshakeConn struct {
	*tls.Conn
	t    *TLS
	once sync.Once
	err  error
}

func (c *handshakeConn) handshake() error {
	c.once.Do(func() {
		if err := c.Conn.Handshake(); err != nil {
			c.err = err
			c.t.failures.WithLabelValues("raft").Inc()
			c.t.log.Warn("tls handshake failed on the raft port", "remote", c.RemoteAddr().String(), "err", err)
		}
	})
	return c.err
}

func (c *handshakeConn) Read(b []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Read(b)
}

func (c *handshakeConn) Write(b []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}

// Dialer is a store.Config.Dial function.
type Dialer func(ctx context.Context, addr string) (net.Conn, error)

// PeerDialer returns the raft port's dial function: inner opens the raw
// connection (nil: plain TCP), then a TLS handshake presents this node's
// certificate and verifies the peer as a node of the cluster whose
// certificate names the dialed host. For plain HTTP it returns inner.
func (t *TLS) PeerDialer(inner Dialer) Dialer {
	if inner == nil {
		d := &net.Dialer{KeepAlive: 30 * time.Second}
		inner = func(ctx context.Context, addr string) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) }
	}
	if t == nil {
		return inner
	}
	return func(ctx context.Context, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		cfg, err := pki.ClientConfig(t.r, pki.ClientOptions{RequireNode: true, ServerName: host})
		if err != nil {
			return nil, err
		}
		raw, err := inner(ctx, addr)
		if err != nil {
			return nil, err
		}
		c := tls.Client(raw, cfg)
		if err := c.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, fmt.Errorf("tls handshake with %s: %w", addr, err)
		}
		return c, nil
	}
}

// ServerConfig is the tls.Config of the HTTPS API (nil for plain HTTP):
// it serves the current certificate and asks clients for none (they
// authenticate with bearer keys).
func (t *TLS) ServerConfig() *tls.Config {
	if t == nil {
		return nil
	}
	return t.server.Clone()
}

// Serve serves srv on ln: HTTPS with ServerConfig, or plain HTTP.
func (t *TLS) Serve(srv *http.Server, ln net.Listener) error {
	if t == nil {
		return srv.Serve(ln)
	}
	srv.TLSConfig = t.ServerConfig()
	return srv.ServeTLS(ln, "", "")
}

// PeerClient returns the HTTP client for calls to peers' APIs (join
// resolution, liveness probes), with the given overall timeout: servers
// verified against the cluster CA and their host name, this node's
// certificate presented. Use it with Scheme.
func (t *TLS) PeerClient(timeout time.Duration) *http.Client {
	if t == nil {
		return &http.Client{Timeout: timeout}
	}
	return &http.Client{Timeout: timeout, Transport: pki.NewTransport(t.r)}
}

// Start follows certificate rotations until the returned stop function is
// called: the Reloader polls the files every PollInterval (pki.Reloader.Run)
// and SIGHUP reloads them at once (pki.Reloader.Reload). A bad new set
// keeps the old one; both outcomes are logged by the Reloader. stop waits
// for the goroutines to end. For plain HTTP it does nothing.
func (t *TLS) Start() (stop func()) {
	if t == nil {
		return func() {}
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP) // before returning: a SIGHUP right after Open must not kill the process
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = t.r.Run(ctx) }()
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				t.log.Info("SIGHUP: reloading certificates")
				_ = t.r.Reload() // logged by the Reloader
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			signal.Stop(hup)
			cancel()
			wg.Wait()
		})
	}
}

// ClientTransport returns the transport of a client of another service
// (the agent's billing client): servers verified against caFile when set,
// else against t's cluster CA bundle (presenting t's certificate), else
// the system roots (nil: the caller's default transport). Rotations of t's
// files apply; caFile is read once.
func ClientTransport(caFile string, t *TLS, log *slog.Logger) (*http.Transport, error) {
	switch {
	case caFile != "":
		r, err := pki.LoadReloader(pki.ReloaderConfig{CAFile: caFile, Logger: log})
		if err != nil {
			return nil, err
		}
		return pki.NewTransport(r), nil
	case t != nil:
		return pki.NewTransport(t.r), nil
	}
	return nil, nil
}
