package config

import "github.com/aerolithdb/aerolith/internal/settings"

// table is the one table of names. Flag, env var and YAML key are all
// derived from name.
var table = settings.Table[Config]{Default: Default, Options: []settings.Option[Config]{
	{Name: "node-id", Usage: "stable id of this node; default: read from <data-dir>/node-id, generated and stored there on first start", Field: func(c *Config) any { return &c.NodeID }},
	{Name: "data-dir", Usage: "directory holding the raft log, snapshots and documents (required)", Field: func(c *Config) any { return &c.DataDir }},
	{Name: "http-addr", Usage: "listen address of the HTTP data API", Field: func(c *Config) any { return &c.HTTPAddr }},
	{Name: "raft-addr", Usage: "listen address for raft and internal cluster traffic", Field: func(c *Config) any { return &c.RaftAddr }},
	{Name: "advertise", Usage: "host other nodes and clients use to reach this node (announced with the raft and http ports); default: the listen host, or 127.0.0.1 for loopback-only setups", Field: func(c *Config) any { return &c.Advertise }},
	{Name: "bootstrap-expect", Usage: "form a new cluster once this many nodes (this one included) know each other; 0 joins an existing cluster or starts a single node", Field: func(c *Config) any { return &c.BootstrapExpect }},
	{Name: "join", Usage: "comma-separated raft or http addresses (host:port) of cluster members; this node's own address may be included", Field: func(c *Config) any { return &c.Join }},
	{Name: "discover", Usage: "find the members instead of --join (with --bootstrap-expect N, form a new cluster of N; without it, join the running one): \"billing\" (billing's node registry; managed agents) or \"provider=aws region=R tag_key=K tag_value=V [endpoint=URL] [port=N]\" (running EC2 instances carrying the tag; credentials from the standard AWS environment and files) or \"provider=azure subscription_id=S [resource_group=G] tag_key=K tag_value=V [endpoint=URL] [port=N]\" (provisioned Azure VMs carrying the tag; credentials from azidentity's default chain: managed identity, AZURE_CLIENT_* environment)", Field: func(c *Config) any { return &c.Discover }},
	{Name: "admin-key", Usage: "cluster admin bearer key; required unless --insecure-no-auth", Field: func(c *Config) any { return &c.AdminKey }},
	{Name: "insecure-no-auth", Usage: "serve without authentication: every caller is admin of the default tenant (local testing only)", Field: func(c *Config) any { return &c.InsecureNoAuth }},
	{Name: "metrics-no-auth", Usage: "serve /metrics without authentication (for scrapers without a key)", Field: func(c *Config) any { return &c.MetricsNoAuth }},
	{Name: "billing-url", Usage: "URL of the billing service (replicas separated by commas); makes the agent managed: tenants, API keys, quotas and metering", Field: func(c *Config) any { return &c.BillingURL }},
	{Name: "enrollment-token", Usage: "the cluster's enrollment token from billing (POST /api/v1/clusters); required with --billing-url", Field: func(c *Config) any { return &c.EnrollmentToken }},
	{Name: "billing-public-key", Usage: "pin billing's policy signing key (base64 ed25519, from GET /api/v1/policy/public-key); default: trust the key billing serves on first contact", Field: func(c *Config) any { return &c.BillingPublicKey }},
	{Name: "meter-window", Usage: "metering window: usage is counted per tenant and window and sent to billing", Field: func(c *Config) any { return &c.MeterWindow }},
	{Name: "policy-refresh", Usage: "mean interval between refreshes of the tenants' policies from billing", Field: func(c *Config) any { return &c.PolicyRefresh }},
	{Name: "log-level", Usage: "debug, info, warn or error", Field: func(c *Config) any { return &c.LogLevel }},
	{Name: "log-format", Usage: "text or json", Field: func(c *Config) any { return &c.LogFormat }},
	{Name: "tls-cert", Usage: "node certificate file (PEM, from aerolith cert issue): serves the data API over HTTPS and authenticates this node to its peers on the raft port (mutual TLS); with --tls-key and --tls-ca, or pass --insecure-http", Field: func(c *Config) any { return &c.TLSCert }},
	{Name: "tls-key", Usage: "private key file of --tls-cert (PEM)", Field: func(c *Config) any { return &c.TLSKey }},
	{Name: "tls-ca", Usage: "the cluster's CA bundle file (PEM, ca.crt): peers must present a node certificate it signed", Field: func(c *Config) any { return &c.TLSCA }},
	{Name: "tls-bootstrap", Usage: "obtain this node's certificate from billing instead of --tls-cert/--tls-key/--tls-ca (managed agents): a key made at first start in <data-dir>/tls (never leaves the node), a certificate of the cluster's CA signed through the enrollment token, renewed at half-life; billing is verified with --billing-ca or the system roots", Field: func(c *Config) any { return &c.TLSBootstrap }},
	{Name: "tls-bootstrap-san", Usage: "comma-separated further DNS names or IP addresses the --tls-bootstrap certificate is valid for besides the advertised host: the names clients reach the cluster by (a Kubernetes Service, a load balancer)", Field: func(c *Config) any { return &c.TLSBootstrapSAN }},
	{Name: "tls-poll-interval", Usage: "how often the TLS files are checked for changes (SIGHUP reloads them at once)", Field: func(c *Config) any { return &c.TLSPollInterval }},
	{Name: "insecure-http", Usage: "serve plain HTTP and plain raft without TLS (keys and data travel unencrypted); required when no TLS files are given", Field: func(c *Config) any { return &c.InsecureHTTP }},
	{Name: "billing-ca", Usage: "CA bundle file (PEM) to verify billing's certificate with; default: the --tls-ca bundle, then the system roots", Field: func(c *Config) any { return &c.BillingCA }},
	{Name: "max-document-bytes", Usage: "largest accepted document (its JSON data), in bytes", Field: func(c *Config) any { return &c.MaxDocumentBytes }},
	{Name: "pprof-addr", Usage: "listen address of a Go profiling endpoint (net/http/pprof, unauthenticated: bind it to loopback, e.g. 127.0.0.1:6060); default: off", Field: func(c *Config) any { return &c.PprofAddr }},
	{Name: "max-body-bytes", Usage: "largest accepted HTTP request body, in bytes", Field: func(c *Config) any { return &c.MaxBodyBytes }},
	{Name: "audit-log", Usage: "audit log file (hash-chained JSON lines: key, member, policy and admin changes, refused credentials, quota refusals); default <data-dir>/audit/audit.jsonl; \"off\" disables it (not recommended)", Field: func(c *Config) any { return &c.AuditLog }},
	{Name: "audit-hmac-key-file", Usage: "file holding a key (16+ bytes) that HMACs the audit log's chain, so only its holder can rewrite the log undetected; keep a copy off this host to verify it", Field: func(c *Config) any { return &c.AuditHMACKeyFile }},
	{Name: "snapshot-threshold", Usage: "raft entries since the last snapshot that trigger a new one (and compact the log); 0: the store's default (8192)", Field: func(c *Config) any { return &c.SnapshotThreshold }},
	{Name: "snapshot-interval", Usage: "how often the snapshot threshold is checked; 0: the store's default (30s)", Field: func(c *Config) any { return &c.SnapshotInterval }},
	{Name: "trailing-logs", Usage: "raft entries kept after a snapshot for slow followers to catch up from; 0: the store's default (10240)", Field: func(c *Config) any { return &c.TrailingLogs }},
	{Name: "master-key-file", Usage: "master key file (32 bytes, hex or base64; mode 0600; from aerolith master-key create) enabling encryption at rest: raft log, snapshots and documents; every node of the cluster needs the same key; default: stored in plaintext", Field: func(c *Config) any { return &c.MasterKeyFile }},
}}
