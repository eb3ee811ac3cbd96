package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aerolithdb/aerolith/provisioner"
	"github.com/aerolithdb/aerolith/provisioner/deployment"
)

// progress prints the provisioner's events on stderr as they happen, one
// line each, with the time since the command began.
type progress struct {
	w     io.Writer
	start time.Time
	mu    sync.Mutex
	// local words the events of the local driver as what it does.
	local bool
}

func newProgress(w io.Writer) *progress { return &progress{w: w, start: time.Now()} }

func (p *progress) line(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "[%6.1fs] %s\n", time.Since(p.start).Seconds(), fmt.Sprintf(format, args...))
}

func (p *progress) event(e provisioner.Event) {
	node := e.NodeID
	if node == "" {
		node = "-"
	}
	msg := e.Message
	if e.Action == string(provisioner.ActEnsureNetwork) && p.local {
		msg = "the cluster's loopback subnet; stopped nodes started again"
	}
	p.line("%-14s %-16s %s", e.Action, node, msg)
}

// showOut is what `cluster show` (and create, scale) print.
type showOut struct {
	Cluster      string                 `json:"cluster"`
	Cloud        provisioner.Cloud      `json:"cloud"`
	Nodes        int                    `json:"nodes"`
	Instances    []provisioner.Instance `json:"instances"`
	Drift        []string               `json:"drift,omitempty"`
	Endpoints    []string               `json:"endpoints"`
	Leader       string                 `json:"leader,omitempty"`
	Health       string                 `json:"health"`
	CAFile       string                 `json:"ca_file,omitempty"`
	AdminKeyFile string                 `json:"admin_key_file"`
	BillingID    string                 `json:"billing_cluster_id,omitempty"`
	Tenants      []string               `json:"tenants,omitempty"`
}

func printShow(ctx context.Context, w io.Writer, p *provisionFlags, env *deployment.Env) error {
	spec := &env.Rec.Spec
	out := showOut{Cluster: spec.Name, Cloud: spec.Cloud, Nodes: spec.Nodes, Instances: []provisioner.Instance{}, Endpoints: []string{},
		CAFile: env.Rec.CAFile, AdminKeyFile: env.Store.SecretsPath(spec.Name), Tenants: env.Rec.Tenants}
	if env.Rec.InsecureHTTP {
		out.CAFile = ""
	}
	if spec.Managed != nil {
		out.BillingID = spec.Managed.ClusterID
	}
	st, err := env.Prov.Read(ctx, spec)
	if err != nil && !errors.Is(err, provisioner.ErrNotFound) {
		return err
	}
	if st != nil {
		out.Instances = append(out.Instances, st.Nodes...)
		out.Drift = st.Drift
	}
	if out.Endpoints, err = env.Endpoints(ctx, ""); err != nil {
		return err
	}
	msg, _ := env.Health(ctx)
	out.Health = msg
	if leader, ok := strings.CutPrefix(msg, "healthy, leader "); ok {
		out.Leader = leader
	}
	if p.f.json() {
		return writeJSON(w, out)
	}
	tw := newTable(w)
	fmt.Fprintf(tw, "CLUSTER\t%s (%s, %d nodes)\n", out.Cluster, out.Cloud, out.Nodes)
	fmt.Fprintf(tw, "HEALTH\t%s\n", out.Health)
	if out.BillingID != "" {
		fmt.Fprintf(tw, "BILLING\tcluster %s, tenants %s\n", out.BillingID, strings.Join(out.Tenants, ", "))
	}
	fmt.Fprintf(tw, "URL\t%s\n", orDash(strings.Join(out.Endpoints, ",")))
	if out.CAFile != "" {
		fmt.Fprintf(tw, "CA FILE\t%s\n", out.CAFile)
	}
	fmt.Fprintf(tw, "ADMIN KEY\tin %s (admin_key)\n", out.AdminKeyFile)
	if env.Local != nil {
		fmt.Fprintf(tw, "LOGS\t%s/<instance>/agent.log, instance.log\n", filepath.Join(env.Local.ClusterDir(spec.Name), "instances"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = newTable(w)
	fmt.Fprintln(tw, "NODE\tINSTANCE\tSTATE\tADDRESS\tLAUNCHED")
	for _, in := range out.Instances {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", in.NodeID, in.ID, in.State, orDash(in.PrivateIP), in.Launched.Local().Format(time.DateTime))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, d := range out.Drift {
		fmt.Fprintf(w, "drift: %s\n", d)
	}
	return nil
}
