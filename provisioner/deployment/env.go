package deployment

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aerolithdb/aerolith/agent/client"
	"github.com/aerolithdb/aerolith/internal/clientopts"
	"github.com/aerolithdb/aerolith/internal/pki"
	"github.com/aerolithdb/aerolith/provisioner"
	"github.com/aerolithdb/aerolith/provisioner/cloudinit"
	"github.com/aerolithdb/aerolith/provisioner/local"
)

// failoverTimeout bounds connecting to one node (dial and TLS handshake)
// and waiting for its answer's headers before another node is tried.
const failoverTimeout = time.Second

// Config configures an Env.
type Config struct {
	Store   Store
	Record  *Record
	Secrets *Secrets
	// LocalCommand runs a local instance (followed by its directory): the
	// aerolith binary and its hidden local-instance command.
	LocalCommand []string
	// OnEvent receives the provisioner's progress; nil drops it.
	OnEvent func(provisioner.Event)
	// UserAgent names the tool in requests to the nodes.
	UserAgent string
}

// LocalInstanceCommand is the aerolith binary's hidden command a local
// instance process runs.
const LocalInstanceCommand = "local-instance"

// Env is what acting on one cluster needs: its record and secrets, its
// cloud's driver and a provisioner over it.
type Env struct {
	Store Store
	Rec   *Record
	Sec   *Secrets
	Drv   provisioner.Driver
	// Local is Drv for a local cluster, else nil.
	Local *local.Driver
	Prov  *provisioner.Provisioner
	// TLS verifies the nodes; nil with plain HTTP.
	TLS       *tls.Config
	userAgent string
}

// New builds the driver of the record's cloud and the provisioner. It
// does no network I/O.
func New(ctx context.Context, cfg Config) (*Env, error) {
	rec := cfg.Record
	e := &Env{Store: cfg.Store, Rec: rec, Sec: cfg.Secrets, userAgent: cfg.UserAgent}
	if e.userAgent == "" {
		e.userAgent = "aerolith"
	}
	switch c, ok := clouds[rec.Spec.Cloud]; {
	case rec.Spec.Cloud == provisioner.Local:
		if len(cfg.LocalCommand) == 0 {
			return nil, errors.New("local cluster: no command to run its instances")
		}
		d, err := local.NewDriver(local.DriverConfig{StateDir: cfg.Store.LocalDir(), Command: cfg.LocalCommand})
		if err != nil {
			return nil, err
		}
		e.Drv, e.Local = d, d
	case ok:
		d, err := c.driver(ctx, rec)
		if err != nil {
			return nil, err
		}
		e.Drv = d
	default:
		return nil, UnsupportedCloudError{Cloud: rec.Spec.Cloud}
	}
	if !rec.InsecureHTTP && rec.CAFile != "" {
		var err error
		if e.TLS, err = (clientopts.Options{CAFile: rec.CAFile}).TLSConfig(); err != nil {
			return nil, err
		}
	}
	p, err := provisioner.New(provisioner.Config{Driver: e.Drv, UserData: e.UserData, Members: e, OnEvent: cfg.OnEvent, PollInterval: 100 * time.Millisecond})
	if err != nil {
		return nil, err
	}
	e.Prov = p
	return e, nil
}

// Scheme is the nodes' URL scheme.
func (e *Env) Scheme() string {
	if e.Rec.InsecureHTTP {
		return "http"
	}
	return "https"
}

// EnsureCA creates the local CA of an unmanaged local cluster (kept under
// the cluster's files directory, reused by reruns and scale) and points
// the record's CAFile at its certificate.
func (e *Env) EnsureCA() (*pki.CA, error) {
	dir := filepath.Join(e.Store.FilesDir(e.Rec.Spec.Name), "pki")
	ca, err := pki.LoadCA(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if ca, err = pki.NewCA(pki.CAConfig{ClusterID: e.Rec.Spec.Name}); err != nil {
			return nil, err
		}
		err = ca.Save(dir)
	}
	if err != nil {
		return nil, fmt.Errorf("cluster CA in %s: %w", dir, err)
	}
	e.Rec.CAFile = filepath.Join(dir, pki.CACertFile)
	return ca, nil
}

// UserData renders one node's user data: the same renderer as every
// cloud's. A local node knows every address before launch, so it joins
// by address: the initial nodes list each other (bootstrap-expect N), a
// node added later lists the running members.
func (e *Env) UserData(spec *provisioner.ClusterSpec, nodeID string, initial bool) ([]byte, error) {
	if e.Local == nil {
		return provisioner.UserData(e.CloudBoot(spec))(spec, nodeID, initial)
	}
	settings := []cloudinit.Setting{{Key: "admin-key", Value: e.Sec.AdminKey}}
	self, err := e.Local.Address(spec.Name, nodeID)
	if err != nil {
		return nil, err
	}
	var join []string
	if initial {
		for i := 1; i <= spec.Nodes; i++ {
			a, err := e.Local.Address(spec.Name, provisioner.NodeID(spec.Name, i))
			if err != nil {
				return nil, err
			}
			join = append(join, RaftAddr(a))
		}
		settings = append(settings, cloudinit.Setting{Key: "bootstrap-expect", Value: spec.Nodes})
	} else {
		insts, err := e.Drv.Instances(context.Background(), spec)
		if err != nil {
			return nil, err
		}
		for _, in := range insts {
			if in.State == provisioner.Running && in.NodeID != nodeID {
				join = append(join, RaftAddr(in.PrivateIP))
			}
		}
		sort.Strings(join)
	}
	settings = append(settings, cloudinit.Setting{Key: "join", Value: join})
	if e.Rec.InsecureHTTP {
		settings = append(settings, cloudinit.Setting{Key: "insecure-http", Value: true})
	} else {
		ca, err := e.EnsureCA()
		if err != nil {
			return nil, err
		}
		certPEM, keyPEM, err := pki.IssueNode(ca, pki.NodeRequest{NodeID: nodeID, DNSNames: []string{"localhost"}, IPs: []string{self}})
		if err != nil {
			return nil, fmt.Errorf("certificate of %s: %w", nodeID, err)
		}
		dir := filepath.Join(e.Store.FilesDir(spec.Name), "tls", nodeID)
		if err := pki.WriteCert(dir, certPEM, keyPEM, ca.CertPEM()); err != nil {
			return nil, err
		}
		settings = append(settings,
			cloudinit.Setting{Key: "tls-cert", Value: filepath.Join(dir, pki.CertFile)},
			cloudinit.Setting{Key: "tls-key", Value: filepath.Join(dir, pki.KeyFile)},
			cloudinit.Setting{Key: "tls-ca", Value: filepath.Join(dir, pki.CACertFile)})
	}
	if m := spec.Managed; m != nil {
		settings = append(settings,
			cloudinit.Setting{Key: "billing-url", Value: m.BillingURL},
			cloudinit.Setting{Key: "enrollment-token", Value: m.EnrollmentToken})
		if m.BillingCA != "" {
			p := filepath.Join(e.Store.FilesDir(spec.Name), "billing-ca.crt")
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				return nil, err
			}
			if err := os.WriteFile(p, []byte(m.BillingCA), 0o644); err != nil {
				return nil, err
			}
			settings = append(settings, cloudinit.Setting{Key: "billing-ca", Value: p})
		}
	}
	keys := make([]string, 0, len(e.Rec.AgentSettings))
	for k := range e.Rec.AgentSettings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		settings = append(settings, cloudinit.Setting{Key: k, Value: e.Rec.AgentSettings[k]})
	}
	return cloudinit.Render(cloudinit.Node{Cluster: spec.Name, NodeID: nodeID, AgentURL: spec.Agent.URL, AgentSHA256: spec.Agent.SHA256, Settings: settings})
}

// CloudBoot is how the nodes of a cluster on a cloud boot: they find each
// other through discovery (billing's registry when managed, the cluster's
// tags otherwise) and get their certificates from billing through the
// enrollment token, unless the cluster was made with plain HTTP.
func (e *Env) CloudBoot(spec *provisioner.ClusterSpec) provisioner.Boot {
	b := provisioner.Boot{AdminKey: e.Sec.AdminKey, InsecureHTTP: e.Rec.InsecureHTTP}
	if c, ok := clouds[spec.Cloud]; ok && spec.Managed == nil {
		r := *e.Rec
		r.Spec = *spec
		b.Discover = c.discover(&r)
	}
	return b
}

// RaftAddr is a node's raft address on host.
func RaftAddr(host string) string { return net.JoinHostPort(host, strconv.Itoa(local.AgentRaftPort)) }

// HTTPURL is a node's data API URL on host.
func HTTPURL(scheme, host string) string {
	return scheme + "://" + net.JoinHostPort(host, strconv.Itoa(local.AgentHTTPPort))
}

// Endpoints are the data API URLs of the cluster's running nodes, but
// skip's, in node order.
func (e *Env) Endpoints(ctx context.Context, skip string) ([]string, error) {
	insts, err := e.Drv.Instances(ctx, &e.Rec.Spec)
	if err != nil {
		return nil, err
	}
	sort.Slice(insts, func(i, j int) bool {
		a, _ := provisioner.NodeIndex(e.Rec.Spec.Name, insts[i].NodeID)
		b, _ := provisioner.NodeIndex(e.Rec.Spec.Name, insts[j].NodeID)
		return a < b
	})
	var out []string
	for _, in := range insts {
		if in.State == provisioner.Running && in.NodeID != skip && in.PrivateIP != "" && !slices.Contains(out, HTTPURL(e.Scheme(), in.PrivateIP)) {
			out = append(out, HTTPURL(e.Scheme(), in.PrivateIP))
		}
	}
	return out, nil
}

// Client is a client of the cluster over urls with key (the admin key
// when key is "").
func (e *Env) Client(urls []string, key string) (*client.Client, error) {
	if key == "" {
		key = e.Sec.AdminKey
	}
	t := client.NewTransport()
	t.TLSClientConfig = e.TLS
	return client.New(client.Config{URL: strings.Join(urls, ","), Key: key, UserAgent: e.userAgent,
		HTTPClient: &http.Client{Transport: t, Timeout: 5 * time.Second}, ConnectTimeout: failoverTimeout, HeaderTimeout: failoverTimeout})
}

// Remove implements provisioner.Members through the admin API of the
// other nodes: DELETE /api/v1/cluster/members/{id}, repeated until the
// members no longer list the node under a leader that is not it. A
// leader asked to remove itself commits its removal and steps down (raft
// does that; the agent's API has no leadership transfer), so the
// remaining nodes elect a new leader; an acknowledged write is committed
// on a majority of the remaining voters either way.
func (e *Env) Remove(ctx context.Context, nodeID string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var last error
	for {
		urls, err := e.Endpoints(ctx, nodeID)
		if err != nil {
			return err
		}
		if len(urls) == 0 {
			return fmt.Errorf("no other running node to remove %s through", nodeID)
		}
		c, err := e.Client(urls, "")
		if err != nil {
			return err
		}
		if err := c.Remove(ctx, nodeID); err != nil {
			last = err
		}
		st, err := c.Cluster(ctx)
		if err == nil && st.LeaderID != "" && st.LeaderID != nodeID && !slices.ContainsFunc(st.Members, func(m client.Member) bool { return m.ID == nodeID }) {
			return nil
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s still a member: %v (last error: %v)", nodeID, ctx.Err(), last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// CrashLoopRestarts is how many quick restarts in a row of one node's
// agent (each run shorter than the restart policy's ResetAfter, 10s on a
// local node) make a wait for the cluster fail: an agent that exits this
// often right after starting exits on its own configuration, which no
// restart changes. A node that runs a while between crashes never
// reaches it.
const CrashLoopRestarts = 3

// WaitHealthy waits until every node of the spec answers, agrees on one
// leader and is a voter: the cluster is formed. report gets a line when
// the picture changes. On a local cluster it fails once a node's agent
// crash-loops (see Converge); when ctx ends, the error names the nodes
// that never became ready.
func (e *Env) WaitHealthy(ctx context.Context, report func(string)) error {
	return e.waitHealthy(ctx, report, e.watchCrashes())
}

// watchCrashes returns the check of a local cluster's crash-looping
// nodes, nil on a cloud (its nodes' processes are not visible here).
func (e *Env) watchCrashes() func() error {
	if e.Local == nil {
		return nil
	}
	return e.Local.WatchCrashes(e.Rec.Spec.Name, CrashLoopRestarts).Check
}

func (e *Env) waitHealthy(ctx context.Context, report func(string), crashes func() error) error {
	last := ""
	for {
		msg, ok := e.Health(ctx)
		if ok {
			return nil
		}
		if msg != last {
			report(msg)
			last = msg
		}
		if crashes != nil {
			if err := crashes(); err != nil {
				return fmt.Errorf("cluster %s cannot form: %w", e.Rec.Spec.Name, err)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster %s not healthy: %s; %s (%w)", e.Rec.Spec.Name, msg, e.notReady(ctx), ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// notReady says which nodes did not answer, asked once more after a
// wait's ctx ended.
func (e *Env) notReady(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	insts, err := e.Drv.Instances(ctx, &e.Rec.Spec)
	if err != nil {
		return "the nodes cannot be listed: " + err.Error()
	}
	running := map[string]string{}
	for _, in := range insts {
		if in.State == provisioner.Running && in.PrivateIP != "" {
			running[in.NodeID] = HTTPURL(e.Scheme(), in.PrivateIP)
		}
	}
	var missing []string
	for i := 1; i <= e.Rec.Spec.Nodes; i++ {
		id := provisioner.NodeID(e.Rec.Spec.Name, i)
		u, ok := running[id]
		if !ok {
			missing = append(missing, id+" (no running instance)")
			continue
		}
		c, err := e.Client([]string{u}, "")
		if err == nil {
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, err = c.Cluster(cctx)
			cancel()
		}
		if err != nil {
			missing = append(missing, fmt.Sprintf("%s (no answer at %s)", id, u))
		}
	}
	if len(missing) == 0 {
		return "every node answers, but they have not formed one cluster"
	}
	return "nodes never ready: " + strings.Join(missing, ", ")
}

// Health says whether the cluster is formed, and if not, why.
func (e *Env) Health(ctx context.Context) (string, bool) {
	urls, err := e.Endpoints(ctx, "")
	if err != nil {
		return err.Error(), false
	}
	n := e.Rec.Spec.Nodes
	if len(urls) != n {
		return fmt.Sprintf("%d of %d nodes running", len(urls), n), false
	}
	leader := ""
	for _, u := range urls {
		c, err := e.Client([]string{u}, "")
		if err != nil {
			return err.Error(), false
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		st, err := c.Cluster(cctx)
		cancel()
		if err != nil {
			return fmt.Sprintf("waiting for %s", u), false
		}
		if st.LeaderID == "" {
			return "electing a leader", false
		}
		if leader != "" && st.LeaderID != leader {
			return "nodes disagree on the leader", false
		}
		leader = st.LeaderID
		voters := 0
		for _, m := range st.Members {
			if m.Voter {
				voters++
			}
		}
		if voters != n || len(st.Members) != n {
			return fmt.Sprintf("%d voters of %d members, want %d voters", voters, len(st.Members), n), false
		}
	}
	return "healthy, leader " + leader, true
}
