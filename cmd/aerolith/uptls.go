package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/aerolithdb/aerolith/agent/client"
	"github.com/aerolithdb/aerolith/internal/clientopts"
	"github.com/aerolithdb/aerolith/internal/pki"
	"github.com/aerolithdb/aerolith/provisioner/cloudinit"
)

// TLS of `aerolith up`: one CA per deployment under <dir>/pki (kept and
// reused with --data-dir), a node certificate per agent and a server
// certificate for billing under <dir>/tls/<node>, issued afresh on every
// run for 127.0.0.1 and localhost.
const (
	upCADir     = "pki"
	upCertsDir  = "tls"
	upClusterID = "aerolith-up"
)

// upTLS is the deployment's certificate material.
type upTLS struct {
	ca     *pki.CA
	caFile string
	// client verifies the agents and billing (the CLI's --ca-file).
	client *tls.Config
}

// setUpTLS loads or creates the deployment's CA under dir.
func setUpTLS(dir string) (*upTLS, error) {
	caDir := filepath.Join(dir, upCADir)
	ca, err := pki.LoadCA(caDir)
	if errors.Is(err, fs.ErrNotExist) {
		if ca, err = pki.NewCA(pki.CAConfig{ClusterID: upClusterID}); err != nil {
			return nil, err
		}
		err = ca.Save(caDir)
	}
	if err != nil {
		return nil, fmt.Errorf("cluster CA in %s: %w", caDir, err)
	}
	u := &upTLS{ca: ca, caFile: filepath.Join(caDir, pki.CACertFile)}
	if u.client, err = (clientopts.Options{CAFile: u.caFile}).TLSConfig(); err != nil {
		return nil, err
	}
	return u, nil
}

// issue writes a certificate for the process id into <dir>/tls/<id> and
// returns its flags: a node certificate for agents (mutual TLS on the raft
// port), a server certificate otherwise (billing).
func (u *upTLS) issue(dir, id string, node bool) ([]string, error) {
	var certPEM, keyPEM []byte
	var err error
	names, ips := []string{"localhost"}, []string{"127.0.0.1"}
	if node {
		certPEM, keyPEM, err = pki.IssueNode(u.ca, pki.NodeRequest{NodeID: id, DNSNames: names, IPs: ips})
	} else {
		certPEM, keyPEM, err = pki.IssueServer(u.ca, pki.ServerRequest{Name: id, DNSNames: names, IPs: ips})
	}
	if err != nil {
		return nil, fmt.Errorf("issue the certificate of %s: %w", id, err)
	}
	certDir := filepath.Join(dir, upCertsDir, id)
	if err := pki.WriteCert(certDir, certPEM, keyPEM, u.ca.CertPEM()); err != nil {
		return nil, err
	}
	return []string{
		"--tls-cert", filepath.Join(certDir, pki.CertFile),
		"--tls-key", filepath.Join(certDir, pki.KeyFile),
		"--tls-ca", filepath.Join(certDir, pki.CACertFile),
	}, nil
}

// httpClient returns the client up's own API calls use: verifying against
// the deployment's CA (plain HTTP when u is nil).
func (u *upTLS) httpClient() *http.Client {
	t := client.NewTransport()
	if u != nil {
		t.TLSClientConfig = u.client.Clone()
	}
	return &http.Client{Transport: t}
}

// scheme is "https", or "http" without TLS.
func (u *upTLS) scheme() string {
	if u == nil {
		return "http"
	}
	return "https"
}

// certFlags issues the server certificate of each process of c (billing)
// and appends its flags to the process's args; without TLS it appends
// --insecure-http.
func (u *upTLS) certFlags(c *localCluster) error {
	for _, n := range c.nodes {
		n.scheme = u.scheme()
		if u == nil {
			n.args = append(n.args, "--insecure-http")
			continue
		}
		flags, err := u.issue(c.dir, n.id, false)
		if err != nil {
			return err
		}
		n.args = append(n.args, flags...)
	}
	c.hc = u.httpClient()
	return nil
}

// nodeSettings issues node id's certificate and returns the agent
// settings of its user data that use it (insecure-http without TLS).
func (u *upTLS) nodeSettings(dir, id string) ([]cloudinit.Setting, error) {
	if u == nil {
		return []cloudinit.Setting{{Key: "insecure-http", Value: true}}, nil
	}
	flags, err := u.issue(dir, id, true)
	if err != nil {
		return nil, err
	}
	var s []cloudinit.Setting
	for i := 0; i+1 < len(flags); i += 2 {
		s = append(s, cloudinit.Setting{Key: strings.TrimPrefix(flags[i], "--"), Value: flags[i+1]})
	}
	return s, nil
}

// caFileOrEmpty is the CA bundle clients need ("" without TLS).
func (u *upTLS) caFileOrEmpty() string {
	if u == nil {
		return ""
	}
	return u.caFile
}
