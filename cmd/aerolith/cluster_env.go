package main

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
	awsdrv "github.com/aerolithdb/aerolith/provisioner/aws"
	"github.com/aerolithdb/aerolith/provisioner/cloudinit"
	"github.com/aerolithdb/aerolith/provisioner/local"
)

// clusterEnv is what acting on one CLI-made cluster needs: its record and
// secrets, its cloud's driver and a provisioner over it.
type clusterEnv struct {
	store clusterStore
	rec   *clusterRecord
	sec   *clusterSecrets
	drv   provisioner.Driver
	local *local.Driver // drv, for --cloud local
	prov  *provisioner.Provisioner
	tls   *tls.Config // verifies the nodes; nil with plain HTTP
}

// newClusterEnv builds the driver of rec's cloud and the provisioner.
// onEvent receives the provisioner's progress.
func newClusterEnv(ctx context.Context, store clusterStore, rec *clusterRecord, sec *clusterSecrets, onEvent func(provisioner.Event)) (*clusterEnv, error) {
	e := &clusterEnv{store: store, rec: rec, sec: sec}
	switch rec.Spec.Cloud {
	case provisioner.Local:
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		d, err := local.NewDriver(local.DriverConfig{StateDir: store.localDir(), Command: []string{exe, localInstanceCommand}})
		if err != nil {
			return nil, err
		}
		e.drv, e.local = d, d
	case provisioner.AWS:
		d, err := awsdrv.New(ctx, awsdrv.Config{Region: rec.Spec.Region, Endpoint: rec.Endpoint})
		if err != nil {
			return nil, err
		}
		e.drv = d
	case provisioner.Azure:
		d, err := newAzureDriver(rec)
		if err != nil {
			return nil, err
		}
		e.drv = d
	default:
		return nil, usageError{fmt.Errorf("--cloud %s: this command drives local, aws and azure clusters", rec.Spec.Cloud)}
	}
	if !rec.InsecureHTTP && rec.CAFile != "" {
		var err error
		if e.tls, err = (clientopts.Options{CAFile: rec.CAFile}).TLSConfig(); err != nil {
			return nil, err
		}
	}
	p, err := provisioner.New(provisioner.Config{Driver: e.drv, UserData: e.userData, Members: e, OnEvent: onEvent, PollInterval: 100 * time.Millisecond})
	if err != nil {
		return nil, err
	}
	e.prov = p
	return e, nil
}

func (e *clusterEnv) scheme() string {
	if e.rec.InsecureHTTP {
		return "http"
	}
	return "https"
}

// ensureCA creates the local CA of an unmanaged local cluster (kept under
// the cluster's files directory, reused by reruns and scale).
func (e *clusterEnv) ensureCA() (*pki.CA, error) {
	dir := filepath.Join(e.store.filesDir(e.rec.Spec.Name), "pki")
	ca, err := pki.LoadCA(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if ca, err = pki.NewCA(pki.CAConfig{ClusterID: e.rec.Spec.Name}); err != nil {
			return nil, err
		}
		err = ca.Save(dir)
	}
	if err != nil {
		return nil, fmt.Errorf("cluster CA in %s: %w", dir, err)
	}
	e.rec.CAFile = filepath.Join(dir, pki.CACertFile)
	return ca, nil
}

// userData renders one node's user data: the same renderer as every
// cloud's. A local node knows every address before launch, so it joins
// by address: the initial nodes list each other (bootstrap-expect N), a
// node added later lists the running members.
func (e *clusterEnv) userData(spec *provisioner.ClusterSpec, nodeID string, initial bool) ([]byte, error) {
	if e.local == nil {
		return provisioner.UserData(e.cloudBoot(spec))(spec, nodeID, initial)
	}
	settings := []cloudinit.Setting{{Key: "admin-key", Value: e.sec.AdminKey}}
	self, err := e.local.Address(spec.Name, nodeID)
	if err != nil {
		return nil, err
	}
	var join []string
	if initial {
		for i := 1; i <= spec.Nodes; i++ {
			a, err := e.local.Address(spec.Name, provisioner.NodeID(spec.Name, i))
			if err != nil {
				return nil, err
			}
			join = append(join, raftAddr(a))
		}
		settings = append(settings, cloudinit.Setting{Key: "bootstrap-expect", Value: spec.Nodes})
	} else {
		insts, err := e.drv.Instances(context.Background(), spec)
		if err != nil {
			return nil, err
		}
		for _, in := range insts {
			if in.State == provisioner.Running && in.NodeID != nodeID {
				join = append(join, raftAddr(in.PrivateIP))
			}
		}
		sort.Strings(join)
	}
	settings = append(settings, cloudinit.Setting{Key: "join", Value: join})
	if e.rec.InsecureHTTP {
		settings = append(settings, cloudinit.Setting{Key: "insecure-http", Value: true})
	} else {
		ca, err := e.ensureCA()
		if err != nil {
			return nil, err
		}
		certPEM, keyPEM, err := pki.IssueNode(ca, pki.NodeRequest{NodeID: nodeID, DNSNames: []string{"localhost"}, IPs: []string{self}})
		if err != nil {
			return nil, fmt.Errorf("certificate of %s: %w", nodeID, err)
		}
		dir := filepath.Join(e.store.filesDir(spec.Name), "tls", nodeID)
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
			p := filepath.Join(e.store.filesDir(spec.Name), "billing-ca.crt")
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				return nil, err
			}
			if err := os.WriteFile(p, []byte(m.BillingCA), 0o644); err != nil {
				return nil, err
			}
			settings = append(settings, cloudinit.Setting{Key: "billing-ca", Value: p})
		}
	}
	keys := make([]string, 0, len(e.rec.AgentSettings))
	for k := range e.rec.AgentSettings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		settings = append(settings, cloudinit.Setting{Key: k, Value: e.rec.AgentSettings[k]})
	}
	return cloudinit.Render(cloudinit.Node{Cluster: spec.Name, NodeID: nodeID, AgentURL: spec.Agent.URL, AgentSHA256: spec.Agent.SHA256, Settings: settings})
}

// cloudBoot is how the nodes of a cluster on a cloud boot: they find each
// other through discovery (billing's registry when managed, the cluster's
// tags otherwise) and get their certificates from billing through the
// enrollment token, unless the cluster was made with --insecure-http.
func (e *clusterEnv) cloudBoot(spec *provisioner.ClusterSpec) provisioner.Boot {
	b := provisioner.Boot{AdminKey: e.sec.AdminKey, InsecureHTTP: e.rec.InsecureHTTP}
	if spec.Managed == nil {
		b.Discover = fmt.Sprintf("provider=aws region=%s tag_key=%s tag_value=%s", spec.Region, provisioner.TagCluster, spec.Name)
		if spec.Cloud == provisioner.Azure {
			b.Discover = azureDiscover(e.rec)
		}
		if e.rec.Endpoint != "" {
			b.Discover += " endpoint=" + e.rec.Endpoint
		}
	}
	return b
}

func raftAddr(host string) string { return net.JoinHostPort(host, strconv.Itoa(local.AgentRaftPort)) }
func httpURL(scheme, host string) string {
	return scheme + "://" + net.JoinHostPort(host, strconv.Itoa(local.AgentHTTPPort))
}

// endpoints are the data API URLs of the cluster's running nodes, but
// skip's, in node order.
func (e *clusterEnv) endpoints(ctx context.Context, skip string) ([]string, error) {
	insts, err := e.drv.Instances(ctx, &e.rec.Spec)
	if err != nil {
		return nil, err
	}
	sort.Slice(insts, func(i, j int) bool {
		a, _ := provisioner.NodeIndex(e.rec.Spec.Name, insts[i].NodeID)
		b, _ := provisioner.NodeIndex(e.rec.Spec.Name, insts[j].NodeID)
		return a < b
	})
	var out []string
	for _, in := range insts {
		if in.State == provisioner.Running && in.NodeID != skip && in.PrivateIP != "" && !slices.Contains(out, httpURL(e.scheme(), in.PrivateIP)) {
			out = append(out, httpURL(e.scheme(), in.PrivateIP))
		}
	}
	return out, nil
}

// adminClient is a cluster admin client over urls.
func (e *clusterEnv) adminClient(urls []string) (*client.Client, error) {
	t := client.NewTransport()
	t.TLSClientConfig = e.tls
	return client.New(client.Config{URL: strings.Join(urls, ","), Key: e.sec.AdminKey, UserAgent: "aerolith-cli",
		HTTPClient: &http.Client{Transport: t, Timeout: 5 * time.Second}, ConnectTimeout: failoverTimeout, HeaderTimeout: failoverTimeout})
}

// Remove implements provisioner.Members through the admin API of the
// other nodes: DELETE /api/v1/cluster/members/{id}, repeated until the
// members no longer list the node under a leader that is not it. A
// leader asked to remove itself commits its removal and steps down (raft
// does that; the agent's API has no leadership transfer), so the
// remaining nodes elect a new leader; an acknowledged write is committed
// on a majority of the remaining voters either way.
func (e *clusterEnv) Remove(ctx context.Context, nodeID string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var last error
	for {
		urls, err := e.endpoints(ctx, nodeID)
		if err != nil {
			return err
		}
		if len(urls) == 0 {
			return fmt.Errorf("no other running node to remove %s through", nodeID)
		}
		c, err := e.adminClient(urls)
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

// waitHealthy waits until every node of the spec answers, agrees on one
// leader and is a voter: the cluster is formed. report gets a line when
// the picture changes.
func (e *clusterEnv) waitHealthy(ctx context.Context, report func(string)) error {
	last := ""
	for {
		msg, ok := e.health(ctx)
		if ok {
			return nil
		}
		if msg != last {
			report(msg)
			last = msg
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster %s not healthy: %s (%w)", e.rec.Spec.Name, msg, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// health says whether the cluster is formed, and if not, why.
func (e *clusterEnv) health(ctx context.Context) (string, bool) {
	urls, err := e.endpoints(ctx, "")
	if err != nil {
		return err.Error(), false
	}
	n := e.rec.Spec.Nodes
	if len(urls) != n {
		return fmt.Sprintf("%d of %d nodes running", len(urls), n), false
	}
	leader := ""
	for _, u := range urls {
		c, err := e.adminClient([]string{u})
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
