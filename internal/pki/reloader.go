package pki

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultPollInterval is how often Run looks for changed files.
const DefaultPollInterval = 30 * time.Second

// ReloaderConfig says which files a Reloader serves.
type ReloaderConfig struct {
	// CertFile and KeyFile hold this process's certificate (chain) and
	// private key as PEM; both or neither. Without them the Reloader only
	// verifies peers (a client that presents no certificate).
	CertFile string
	KeyFile  string
	// CAFile is the CA bundle peers are verified against (one or more CA
	// certificates: during a CA rotation, the old and the new). Empty means
	// the system roots, which suits only clients of a server with a
	// publicly issued certificate; mutual TLS between nodes needs it.
	CAFile string
	// ClusterID, when set, is the cluster this process's node certificate
	// and its peers' must belong to. Empty means the cluster named by the
	// node certificate (or by the only cluster CA in the bundle).
	ClusterID string
	// Interval is Run's polling interval; zero means DefaultPollInterval.
	Interval time.Duration
	// Logger receives reloads and reload failures; nil discards them.
	Logger *slog.Logger
	// Now is the clock for validity checks; nil means time.Now.
	Now func() time.Time
}

// Reloader serves a certificate, its key and a CA bundle loaded from
// files, and replaces them when the files change (Poll, Run) or when asked
// (Reload, e.g. on SIGHUP). A new set of files is used only once all of it
// parses, the key matches the certificate, the certificate is valid now
// and chains to the new bundle; otherwise the previous set stays in use and
// the error is returned and logged. A Reloader is safe for concurrent use;
// handshakes never wait for a reload.
type Reloader struct {
	cfg ReloaderConfig
	log *slog.Logger

	cur atomic.Pointer[material]

	mu        sync.Mutex // serialises loads; guards the fields below
	failedSum [sha256.Size]byte
	lastErr   error
}

// material is one consistent set of loaded files.
type material struct {
	sum     [sha256.Size]byte
	cert    *tls.Certificate // nil without CertFile
	pool    *x509.CertPool   // nil: system roots
	cas     []*x509.Certificate
	cluster string // the cluster peers must belong to; "" unknown
}

// LoadReloader validates cfg and loads the files once; it fails when they
// are unusable (the message names the file and the problem). Call Run to
// follow changes, Reload to force a re-read.
func LoadReloader(cfg ReloaderConfig) (*Reloader, error) {
	if (cfg.CertFile == "") != (cfg.KeyFile == "") {
		return nil, errors.New("tls: certificate and key files go together; set both or neither")
	}
	if cfg.CertFile == "" && cfg.CAFile == "" {
		return nil, errors.New("tls: nothing to load; set a certificate and key, a CA bundle, or both")
	}
	if cfg.ClusterID != "" {
		if err := checkID("cluster-id", cfg.ClusterID); err != nil {
			return nil, err
		}
	}
	if cfg.Interval < 0 {
		return nil, fmt.Errorf("tls: poll interval %v is negative", cfg.Interval)
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultPollInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Reloader{cfg: cfg, log: log.With("component", "pki")}
	raw, err := r.read()
	if err != nil {
		return nil, err
	}
	m, err := r.parse(raw)
	if err != nil {
		return nil, err
	}
	r.cur.Store(m)
	// Pin the cluster: a later set of files must belong to the same one.
	r.cfg.ClusterID = m.cluster
	return r, nil
}

// files is the raw content of the configured files.
type files struct{ cert, key, ca []byte }

func (f files) sum() [sha256.Size]byte {
	h := sha256.New()
	for _, b := range [][]byte{f.cert, f.key, f.ca} {
		fmt.Fprintf(h, "%d:", len(b))
		h.Write(b)
	}
	var s [sha256.Size]byte
	h.Sum(s[:0])
	return s
}

func (r *Reloader) read() (files, error) {
	var f files
	var err error
	if r.cfg.CertFile != "" {
		if f.cert, err = readPEMFile(r.cfg.CertFile); err != nil {
			return f, fmt.Errorf("tls: certificate: %w", err)
		}
		if f.key, err = readPEMFile(r.cfg.KeyFile); err != nil {
			return f, fmt.Errorf("tls: key: %w", err)
		}
	}
	if r.cfg.CAFile != "" {
		if f.ca, err = readPEMFile(r.cfg.CAFile); err != nil {
			return f, fmt.Errorf("tls: CA bundle: %w", err)
		}
	}
	return f, nil
}

// parse checks a set of files and turns it into material.
func (r *Reloader) parse(f files) (*material, error) {
	m := &material{sum: f.sum()}
	now := r.cfg.Now()
	if f.ca != nil {
		pool, cas, err := ParseCertPool(f.ca)
		if err != nil {
			return nil, fmt.Errorf("tls: CA bundle %s: %w", r.cfg.CAFile, err)
		}
		m.pool, m.cas = pool, cas
	}
	var leafID Identity
	if f.cert != nil {
		chain, err := ParseCertificates(f.cert)
		if err != nil {
			return nil, fmt.Errorf("tls: certificate %s: %w", r.cfg.CertFile, err)
		}
		key, err := ParsePrivateKey(f.key)
		if err != nil {
			return nil, fmt.Errorf("tls: key %s: %w", r.cfg.KeyFile, err)
		}
		leaf := chain[0]
		if !publicKeysEqual(key.Public(), leaf.PublicKey) {
			return nil, fmt.Errorf("tls: key %s does not belong to certificate %s", r.cfg.KeyFile, r.cfg.CertFile)
		}
		if now.After(leaf.NotAfter) {
			return nil, fmt.Errorf("tls: certificate %s expired at %s", r.cfg.CertFile, leaf.NotAfter.UTC().Format(time.RFC3339))
		}
		if now.Before(leaf.NotBefore) {
			return nil, fmt.Errorf("tls: certificate %s is not valid before %s (check the clock)", r.cfg.CertFile, leaf.NotBefore.UTC().Format(time.RFC3339))
		}
		if m.pool != nil {
			if _, err := leaf.Verify(x509.VerifyOptions{
				Roots:         m.pool,
				Intermediates: poolOf(chain[1:]),
				CurrentTime:   now,
				KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
			}); err != nil {
				return nil, fmt.Errorf("tls: certificate %s does not chain to CA bundle %s: %w", r.cfg.CertFile, r.cfg.CAFile, err)
			}
		}
		raw := make([][]byte, len(chain))
		for i, c := range chain {
			raw[i] = c.Raw
		}
		m.cert = &tls.Certificate{Certificate: raw, PrivateKey: key, Leaf: leaf}
		leafID, _ = IdentityOf(leaf)
	}
	m.cluster = r.cfg.ClusterID
	switch {
	case m.cluster != "" && leafID.ClusterID != "" && leafID.ClusterID != m.cluster:
		return nil, fmt.Errorf("tls: certificate %s belongs to cluster %q, not %q", r.cfg.CertFile, leafID.ClusterID, m.cluster)
	case m.cluster == "":
		m.cluster = leafID.ClusterID
	}
	if m.cluster == "" {
		m.cluster = soleCluster(m.cas)
	}
	return m, nil
}

// soleCluster returns the cluster of the bundle's cluster CAs when they
// all name the same one.
func soleCluster(cas []*x509.Certificate) string {
	cluster := ""
	for _, c := range cas {
		id, ok := IdentityOf(c)
		if !ok {
			continue
		}
		if cluster != "" && id.ClusterID != cluster {
			return ""
		}
		cluster = id.ClusterID
	}
	return cluster
}

func poolOf(certs []*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

// Reload re-reads the files now. On success the new certificate and CA
// bundle serve every later handshake; on failure the previous ones stay
// in use and the error (logged too) says which file is wrong.
func (r *Reloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.load(true)
}

// Poll re-reads the files and reloads when their contents differ from the
// set in use. It reports whether it switched to a new set. A changed set
// that fails to load is reported (and logged) once; Poll keeps returning
// that error, without logging, until the files change again.
func (r *Reloader) Poll() (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	before := r.cur.Load()
	err := r.load(false)
	return r.cur.Load() != before, err
}

// load reads and parses the files; mu is held.
func (r *Reloader) load(force bool) error {
	raw, err := r.read()
	if err != nil {
		return r.fail(nil, err)
	}
	sum := raw.sum()
	if !force && sum == r.cur.Load().sum {
		r.lastErr = nil
		return nil
	}
	if !force && r.lastErr != nil && sum == r.failedSum {
		return r.lastErr
	}
	m, err := r.parse(raw)
	if err != nil {
		return r.fail(&sum, err)
	}
	r.cur.Store(m)
	r.lastErr = nil
	attrs := []any{"cert_file", r.cfg.CertFile, "ca_file", r.cfg.CAFile}
	if m.cert != nil {
		attrs = append(attrs, "subject", m.cert.Leaf.Subject.CommonName, "not_after", m.cert.Leaf.NotAfter)
	}
	r.log.Info("tls certificates loaded", attrs...)
	return nil
}

// fail records a failed load, logging it unless it repeats the last one.
func (r *Reloader) fail(sum *[sha256.Size]byte, err error) error {
	repeat := r.lastErr != nil && r.lastErr.Error() == err.Error()
	if sum != nil {
		repeat = repeat && *sum == r.failedSum
		r.failedSum = *sum
	}
	r.lastErr = err
	if !repeat {
		r.log.Error("tls reload failed; keeping the certificates in use", "err", err)
	}
	return err
}

// Run polls the files every Interval until ctx ends, then returns nil.
// Failures are logged; the certificates in use stay until a good set
// appears.
func (r *Reloader) Run(ctx context.Context) error {
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			_, _ = r.Poll() // logged by load
		}
	}
}

// Certificate returns the certificate in use (nil without CertFile).
func (r *Reloader) Certificate() *tls.Certificate { return r.cur.Load().cert }

// ClusterID returns the cluster peers must belong to ("" when neither the
// configuration, the certificate nor the CA bundle names one).
func (r *Reloader) ClusterID() string { return r.cur.Load().cluster }

// NotAfter returns when the certificate in use expires (zero without one),
// for metrics and alerts.
func (r *Reloader) NotAfter() time.Time {
	if c := r.cur.Load().cert; c != nil {
		return c.Leaf.NotAfter
	}
	return time.Time{}
}

// GetCertificate serves the current certificate to TLS clients
// (tls.Config.GetCertificate).
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if c := r.cur.Load().cert; c != nil {
		return c, nil
	}
	return nil, errors.New("tls: no certificate configured")
}

// GetClientCertificate presents the current certificate to TLS servers
// (tls.Config.GetClientCertificate); without one it presents none.
func (r *Reloader) GetClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	if c := r.cur.Load().cert; c != nil {
		return c, nil
	}
	return &tls.Certificate{}, nil
}
