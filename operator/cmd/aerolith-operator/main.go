// Command aerolith-operator runs the Kubernetes operator: it reconciles
// AerolithCluster resources (aerolithdb.io/v1) into running clusters
// enrolled with billing. Install it with the manifests in
// modules/kubernetes.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/aerolithdb/aerolith/internal/release"
	aerov1 "github.com/aerolithdb/aerolith/operator/api/v1"
	"github.com/aerolithdb/aerolith/operator/controller"
)

func main() {
	if err := run(ctrl.SetupSignalHandler(), os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "aerolith-operator:", err)
		os.Exit(1)
	}
}

// options are the operator's flags; each is also settable by the
// environment variable AEROLITH_OPERATOR_<FLAG>.
type options struct {
	metricsAddr, healthAddr string
	leaderElect             bool
	leaderElectionNamespace string
	namespace               string
	logFormat, logLevel     string
	version                 bool
}

func parse(args []string, errw io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("aerolith-operator", flag.ContinueOnError)
	fs.SetOutput(errw)
	fs.StringVar(&o.metricsAddr, "metrics-addr", ":8080", "listen address of the Prometheus metrics endpoint (\"0\" disables it)")
	fs.StringVar(&o.healthAddr, "health-addr", ":8081", "listen address of /healthz and /readyz")
	fs.BoolVar(&o.leaderElect, "leader-elect", false, "elect one active operator among replicas (a Lease)")
	fs.StringVar(&o.leaderElectionNamespace, "leader-election-namespace", "", "namespace of the leader election Lease (default: the operator's own)")
	fs.StringVar(&o.namespace, "namespace", "", "watch only this namespace (default: all)")
	fs.StringVar(&o.logFormat, "log-format", "json", "text or json")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.BoolVar(&o.version, "version", false, "print the version and the agent image clusters run by default, and exit")
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "version" {
			return
		}
		env := "AEROLITH_OPERATOR_" + envName(f.Name)
		if v, ok := os.LookupEnv(env); ok {
			_ = f.Value.Set(v)
		}
	})
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.logFormat != "text" && o.logFormat != "json" {
		return o, fmt.Errorf("--log-format: %q is neither text nor json", o.logFormat)
	}
	return o, nil
}

func envName(flagName string) string {
	b := []byte(flagName)
	for i, c := range b {
		switch {
		case c == '-':
			b[i] = '_'
		case c >= 'a' && c <= 'z':
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

func run(ctx context.Context, args []string, logw io.Writer) error {
	o, err := parse(args, logw)
	if err != nil {
		return err
	}
	if o.version {
		_, err := fmt.Printf("aerolith-operator %s\nrevision: %s\nimage: %s\nagent image: %s\n", release.Version(), release.Revision(),
			release.Image(release.OperatorImageName), release.Image(release.AgentImageName))
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	hopts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewJSONHandler(logw, hopts)
	if o.logFormat == "text" {
		h = slog.NewTextHandler(logw, hopts)
	}
	log := slog.New(h)
	ctrl.SetLogger(logr.FromSlogHandler(h))

	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if err := aerov1.AddToScheme(scheme); err != nil {
		return err
	}
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("kubernetes config: %w", err)
	}
	mopts := ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsserver.Options{BindAddress: o.metricsAddr},
		HealthProbeBindAddress:  o.healthAddr,
		LeaderElection:          o.leaderElect,
		LeaderElectionID:        "aerolith-operator.aerolithdb.io",
		LeaderElectionNamespace: o.leaderElectionNamespace,
	}
	if o.namespace != "" {
		mopts.Cache = cache.Options{DefaultNamespaces: map[string]cache.Config{o.namespace: {}}}
	}
	mgr, err := ctrl.NewManager(cfg, mopts)
	if err != nil {
		return fmt.Errorf("manager: %w", err)
	}
	r := controller.New(controller.Config{
		Client: mgr.GetClient(), Scheme: scheme, Recorder: mgr.GetEventRecorderFor("aerolith-operator"), Log: log,
	})
	if err := r.SetupWithManager(mgr); err != nil {
		return err
	}
	if err := errors.Join(mgr.AddHealthzCheck("ping", healthz.Ping), mgr.AddReadyzCheck("ping", healthz.Ping)); err != nil {
		return err
	}
	log.Info("aerolith-operator starting", "namespace", o.namespace, "leader_elect", o.leaderElect)
	return mgr.Start(ctx)
}
