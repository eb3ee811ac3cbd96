package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/aerolithdb/aerolith/agent"
	"github.com/aerolithdb/aerolith/agent/config"
)

// newAgentCommand is `aerolith agent`: the node agent daemon. It runs until
// its context ends (SIGINT/SIGTERM from main), then shuts down gracefully.
func newAgentCommand(m *Main) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run a node agent: a replicated document store with the HTTP data API",
		Long: `Run a node agent: a replicated document store with the HTTP data API.

Every flag can also be set with an AEROLITH_<FLAG> environment variable
(AEROLITH_NODE_ID, AEROLITH_BOOTSTRAP_EXPECT, ...) or in a YAML file given with
--config (keys named like the flags: node-id or node_id). Precedence: flag,
environment, file, default.

Authentication: --admin-key is required; every /api/v1 request then needs
"Authorization: Bearer <key>". --insecure-no-auth runs without authentication
instead (every caller is admin of the default tenant; local testing only).
/metrics needs the key too unless --metrics-no-auth.

TLS: --tls-cert and --tls-key (a node certificate from aerolith cert issue)
and --tls-ca (the cluster's ca.crt) serve the data API over HTTPS and secure
the raft port with mutual TLS between nodes of the cluster; SIGHUP reloads
the files (they are also polled every --tls-poll-interval). --insecure-http
serves plain HTTP and raft instead; one of the two is required.

Starting N agents together, each with --bootstrap-expect N and --join listing
the N raft addresses (its own included), forms one cluster. A node restarted
with the same --data-dir keeps its node id and rejoins.

Managed mode: with --billing-url and --enrollment-token (the token billing
answered when the cluster was registered, POST /api/v1/clusters) the agent
serves the cluster's tenants: it enrolls and registers with billing, enforces
each tenant's signed policy (refreshed every --policy-refresh, kept in the
cluster through billing outages), authenticates tenant API keys (aerolith key
create) after the admin key, and meters usage into billing (windows of
--meter-window). /readyz answers 200 once every tenant's policy is in force.`,
		Example: `  aerolith agent --data-dir /var/lib/aerolith --admin-key "$KEY" \
    --advertise 10.0.0.1 --bootstrap-expect 3 --join 10.0.0.1:7071,10.0.0.2:7071,10.0.0.3:7071
  AEROLITH_ENROLLMENT_TOKEN="$TOKEN" aerolith agent --data-dir /var/lib/aerolith --admin-key "$KEY" \
    --billing-url https://billing.internal:7080 --tls-cert ./n1/tls.crt --tls-key ./n1/tls.key --tls-ca ./n1/ca.crt`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(cmd.Flags(), os.LookupEnv)
			if err != nil {
				return usageError{err}
			}
			if err := cfg.Validate(); err != nil {
				return usageError{err}
			}
			logger := cfg.Logger(m.Stderr)
			a, err := agent.New(cfg, logger)
			if err != nil {
				return usageError{err}
			}
			ctx := cmd.Context()
			if err := a.Open(ctx); err != nil {
				if ctx.Err() != nil {
					// A signal arrived while the node was still starting
					// (resolving --join peers, opening the store): Open
					// undid what it had opened, so this is a clean stop.
					logger.Info("shutting down", "reason", "signal", "while", "starting")
					return nil
				}
				return err
			}
			var runErr error
			select {
			case <-ctx.Done():
				logger.Info("shutting down", "reason", "signal")
			case runErr = <-a.Err():
				logger.Error("shutting down", "err", runErr)
			}
			if err := a.Close(); err != nil && runErr == nil {
				runErr = err
			}
			return runErr
		},
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	config.RegisterFlags(cmd.Flags())
	return cmd
}
