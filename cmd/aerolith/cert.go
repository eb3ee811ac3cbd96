package main

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/aerolithdb/aerolith/internal/pki"
)

// newCertCommand builds `aerolith cert`: the cluster's certificate
// authority and the certificates it issues.
func newCertCommand(m *Main) *cobra.Command {
	cmd := groupCommand("cert", "Cluster certificate authority: create it, issue node and server certificates")
	cmd.Long = `Every cluster has its own certificate authority. Agents of the cluster
authenticate each other (raft, internal forwarding) with node certificates
it issues, and its server certificates serve the data and billing APIs.

  aerolith cert ca create --dir ./ca --cluster-id prod-1
  aerolith cert issue --ca-dir ./ca --node n1 --ip 10.0.0.11 --dns n1.internal --out ./n1

The issued directory holds tls.crt, tls.key (0600) and ca.crt.`
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	ca := groupCommand("ca", "Manage the cluster certificate authority")
	ca.AddCommand(newCertCACreateCommand(m))
	cmd.AddCommand(ca, newCertIssueCommand(m), newCertShowCommand(m))
	return cmd
}

func newCertCACreateCommand(m *Main) *cobra.Command {
	var (
		dir, cluster, algo string
		ttl                time.Duration
	)
	cmd := &cobra.Command{
		Use:   "create --dir DIR --cluster-id ID",
		Short: "Create a cluster CA (ca.crt and ca.key) in a directory",
		Long: `Create a self-signed certificate authority for one cluster. It writes
DIR/ca.crt (the CA bundle every node and client trusts) and DIR/ca.key
(mode 0600; keep it offline: it is needed only to issue certificates).
An existing ca.key is never overwritten.`,
		Args: argsBetween(0, 0, "none"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(map[string]string{"dir": dir, "cluster-id": cluster}); err != nil {
				return err
			}
			a, err := pki.ParseAlgorithm(algo)
			if err != nil {
				return usageError{fmt.Errorf("--%v", err)}
			}
			ca, err := pki.NewCA(pki.CAConfig{ClusterID: cluster, Algorithm: a, TTL: ttl})
			if err != nil {
				return usageError{fmt.Errorf("--%v", err)}
			}
			if err := ca.Save(dir); err != nil {
				if errors.Is(err, pki.ErrCAExists) {
					return fmt.Errorf("--%v; use another --dir", err)
				}
				return fmt.Errorf("--%v", err)
			}
			w := m.Stdout
			fmt.Fprintf(w, "created CA for cluster %s (%s, valid until %s)\n", cluster, a, ca.Cert.NotAfter.UTC().Format(time.RFC3339))
			fmt.Fprintf(w, "  %s  CA certificate: give it to every node and client (--ca-file)\n", filepath.Join(dir, pki.CACertFile))
			fmt.Fprintf(w, "  %s  CA key (0600): keep it offline; needed only to issue certificates\n", filepath.Join(dir, pki.CAKeyFile))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "", "directory to create the CA in (created 0700 if missing)")
	f.StringVar(&cluster, "cluster-id", "", "id of the cluster the CA belongs to; certificates of other clusters' CAs are refused")
	f.StringVar(&algo, "algo", string(pki.ECDSAP256), "key algorithm: ecdsa (P-256) or ed25519")
	f.DurationVar(&ttl, "ttl", pki.DefaultCATTL, "how long the CA is valid")
	return cmd
}

func newCertIssueCommand(m *Main) *cobra.Command {
	var (
		caDir, node, out, algo string
		dns, ips               []string
		ttl                    time.Duration
		serverOnly             bool
	)
	cmd := &cobra.Command{
		Use:   "issue --ca-dir DIR --node ID (--dns NAME | --ip ADDR)... --out DIR",
		Short: "Issue a node (or server) certificate signed by the cluster CA",
		Long: `Issue a short-lived certificate signed by the CA in --ca-dir and write
OUT/tls.crt, OUT/tls.key (0600) and OUT/ca.crt, replacing them atomically
(a running agent picks them up on SIGHUP or at its next file check).

A node certificate authenticates an agent to the other agents of its
cluster, as server and as client (mutual TLS); it names the node
(aerolith://cluster/<cluster-id>/node/<node-id>). --server-only issues a
certificate for an HTTP API instead: server authentication only, no node
identity. --dns and --ip list the addresses peers and clients dial; give at
least one.`,
		Args: argsBetween(0, 0, "none"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			required := map[string]string{"ca-dir": caDir, "out": out}
			if !serverOnly {
				required["node"] = node
			}
			if err := requireFlags(required); err != nil {
				return err
			}
			a := pki.Algorithm("")
			if algo != "" {
				var err error
				if a, err = pki.ParseAlgorithm(algo); err != nil {
					return usageError{fmt.Errorf("--%v", err)}
				}
			}
			ca, err := pki.LoadCA(caDir)
			if err != nil {
				return fmt.Errorf("--%v", err)
			}
			var certPEM, keyPEM []byte
			kind := "node"
			if serverOnly {
				kind = "server"
				certPEM, keyPEM, err = pki.IssueServer(ca, pki.ServerRequest{Name: node, DNSNames: dns, IPs: ips, TTL: ttl, Algorithm: a})
			} else {
				certPEM, keyPEM, err = pki.IssueNode(ca, pki.NodeRequest{NodeID: node, DNSNames: dns, IPs: ips, TTL: ttl, Algorithm: a})
			}
			if err != nil {
				if strings.HasPrefix(err.Error(), "ca:") {
					return fmt.Errorf("--ca-dir: %v", strings.TrimPrefix(err.Error(), "ca: "))
				}
				return usageError{errors.New("--" + strings.Replace(err.Error(), "dns, ip:", "dns, --ip:", 1))}
			}
			if err := pki.WriteCert(out, certPEM, keyPEM, ca.CertPEM()); err != nil {
				return fmt.Errorf("--%v", err)
			}
			certs, err := pki.ParseCertificates(certPEM)
			if err != nil {
				return err
			}
			c := certs[0]
			fmt.Fprintf(m.Stdout, "issued %s certificate %s (cluster %s, valid until %s)\n", kind, c.Subject.CommonName, ca.ClusterID, c.NotAfter.UTC().Format(time.RFC3339))
			fmt.Fprintf(m.Stdout, "  %s  %s  %s\n", filepath.Join(out, pki.CertFile), filepath.Join(out, pki.KeyFile), filepath.Join(out, pki.CACertFile))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&caDir, "ca-dir", "", "directory of the cluster CA (from `aerolith cert ca create`)")
	f.StringVar(&node, "node", "", "node id (the agent's --node-id); with --server-only, the certificate's name (default: the first --dns or --ip)")
	f.StringSliceVar(&dns, "dns", nil, "DNS names the certificate is valid for (comma-separated or repeated)")
	f.StringSliceVar(&ips, "ip", nil, "IP addresses the certificate is valid for (comma-separated or repeated)")
	f.StringVar(&out, "out", "", "directory to write tls.crt, tls.key and ca.crt to (created 0700 if missing)")
	f.DurationVar(&ttl, "ttl", pki.DefaultNodeTTL, "how long the certificate is valid (cut to the CA's own expiry)")
	f.BoolVar(&serverOnly, "server-only", false, "issue a server certificate for an HTTP API (no client authentication, no node identity)")
	f.StringVar(&algo, "algo", "", "key algorithm: ecdsa or ed25519 (default: the CA's)")
	return cmd
}

func newCertShowCommand(m *Main) *cobra.Command {
	return &cobra.Command{
		Use:   "show FILE",
		Short: "Print the certificates in a PEM file: identity, addresses, validity",
		Args:  argsBetween(1, 1, "FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			certs, err := pki.ParseCertificates(data)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			for i, c := range certs {
				if i > 0 {
					fmt.Fprintln(m.Stdout)
				}
				showCert(m.Stdout, c)
			}
			return nil
		},
	}
}

// showCert prints one certificate for humans.
func showCert(w io.Writer, c *x509.Certificate) {
	tw := newTable(w)
	kind := "certificate"
	id, hasID := pki.IdentityOf(c)
	switch {
	case c.IsCA && hasID:
		kind = "cluster CA"
	case c.IsCA:
		kind = "CA"
	case hasID && id.NodeID != "":
		kind = "node"
	case hasEKU(c, x509.ExtKeyUsageServerAuth) && !hasEKU(c, x509.ExtKeyUsageClientAuth):
		kind = "server"
	}
	fmt.Fprintf(tw, "kind\t%s\n", kind)
	fmt.Fprintf(tw, "subject\t%s\n", c.Subject.CommonName)
	fmt.Fprintf(tw, "issuer\t%s\n", c.Issuer.CommonName)
	if hasID {
		fmt.Fprintf(tw, "cluster\t%s\n", id.ClusterID)
		if id.NodeID != "" {
			fmt.Fprintf(tw, "node\t%s\n", id.NodeID)
		}
	}
	if len(c.DNSNames) > 0 {
		fmt.Fprintf(tw, "dns\t%s\n", strings.Join(c.DNSNames, ", "))
	}
	if len(c.IPAddresses) > 0 {
		ips := make([]string, len(c.IPAddresses))
		for i, ip := range c.IPAddresses {
			ips[i] = ip.String()
		}
		fmt.Fprintf(tw, "ip\t%s\n", strings.Join(ips, ", "))
	}
	fmt.Fprintf(tw, "not before\t%s\n", c.NotBefore.UTC().Format(time.RFC3339))
	fmt.Fprintf(tw, "not after\t%s\n", c.NotAfter.UTC().Format(time.RFC3339))
	fmt.Fprintf(tw, "key\t%s\n", c.PublicKeyAlgorithm)
	fmt.Fprintf(tw, "serial\t%x\n", c.SerialNumber)
	tw.Flush()
}

func hasEKU(c *x509.Certificate, u x509.ExtKeyUsage) bool {
	for _, e := range c.ExtKeyUsage {
		if e == u {
			return true
		}
	}
	return false
}

// requireFlags fails with a usage error naming the first empty flag, in
// the order of the command's synopsis.
func requireFlags(flags map[string]string) error {
	for _, name := range []string{"dir", "cluster-id", "ca-dir", "node", "out"} {
		if v, ok := flags[name]; ok && v == "" {
			return usageError{fmt.Errorf("--%s: required", name)}
		}
	}
	return nil
}
