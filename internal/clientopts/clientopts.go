// Package clientopts is the one set of connection options every Aerolith
// API client takes: the CLI, and later the Terraform provider and the
// Pulumi stacks. It holds a CA bundle to verify servers with, an optional
// client certificate for servers that require mutual TLS, and the explicit
// opt-in to plain HTTP. It builds the *tls.Config and *http.Client that
// those clients hand to agent/client and billing/client
// (apiclient.Config.HTTPClient), and checks their URLs.
//
// Plain HTTP is refused unless InsecureHTTP is set; InsecureHTTP never
// weakens the verification of https URLs.
package clientopts

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/aerolithdb/aerolith/internal/apiclient"
	"github.com/aerolithdb/aerolith/internal/pki"
)

// Flag names and the environment variables that stand in for unset flags.
const (
	FlagCAFile       = "ca-file"
	FlagCertFile     = "tls-cert"
	FlagKeyFile      = "tls-key"
	FlagInsecureHTTP = "insecure-http"

	EnvCAFile       = "AEROLITH_CA_FILE"
	EnvCertFile     = "AEROLITH_TLS_CERT"
	EnvKeyFile      = "AEROLITH_TLS_KEY"
	EnvInsecureHTTP = "AEROLITH_INSECURE_HTTP"
)

// Options are a client's connection options. The zero value verifies
// servers against the system roots, presents no client certificate and
// refuses plain HTTP.
type Options struct {
	// CAFile is a PEM bundle of the CAs that sign the servers'
	// certificates (a cluster CA's ca.crt); empty means the system roots.
	CAFile string
	// CertFile and KeyFile are a PEM client certificate and key, presented
	// to servers that require mutual TLS; both or neither.
	CertFile string
	KeyFile  string
	// InsecureHTTP allows http:// URLs, which send keys and data in plain
	// text. It must be asked for explicitly.
	InsecureHTTP bool
}

// AddFlags registers the options as flags of fs (--ca-file, --tls-cert,
// --tls-key, --insecure-http).
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.CAFile, FlagCAFile, o.CAFile, "PEM CA bundle to verify the server's certificate with, e.g. the cluster's ca.crt (env "+EnvCAFile+"; default: system roots)")
	fs.StringVar(&o.CertFile, FlagCertFile, o.CertFile, "PEM client certificate for servers that require mutual TLS (env "+EnvCertFile+")")
	fs.StringVar(&o.KeyFile, FlagKeyFile, o.KeyFile, "PEM key of --"+FlagCertFile+" (env "+EnvKeyFile+")")
	fs.BoolVar(&o.InsecureHTTP, FlagInsecureHTTP, o.InsecureHTTP, "allow plain http:// URLs: keys and data travel unencrypted (env "+EnvInsecureHTTP+")")
}

// FromEnv fills the options that are still unset from the environment
// through getenv (os.Getenv in production). A malformed boolean names its
// variable.
func (o *Options) FromEnv(getenv func(string) string) error {
	for _, f := range []struct {
		field *string
		env   string
	}{{&o.CAFile, EnvCAFile}, {&o.CertFile, EnvCertFile}, {&o.KeyFile, EnvKeyFile}} {
		if *f.field == "" {
			*f.field = getenv(f.env)
		}
	}
	if v := getenv(EnvInsecureHTTP); v != "" && !o.InsecureHTTP {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%s: %q is not a boolean", EnvInsecureHTTP, v)
		}
		o.InsecureHTTP = b
	}
	return nil
}

// Validate checks the options without reading files.
func (o Options) Validate() error {
	if (o.CertFile == "") != (o.KeyFile == "") {
		return fmt.Errorf("%s, %s: a client certificate needs its key; set both or neither", FlagCertFile, FlagKeyFile)
	}
	return nil
}

// CheckURL checks every endpoint of a comma-separated URL list (the form
// the API clients take): an http:// endpoint, or one without a scheme,
// which the clients dial as http, is refused unless InsecureHTTP is set.
// example is shown when raw is empty.
func (o Options) CheckURL(raw, example string) error {
	eps, err := apiclient.ParseEndpoints(raw, example)
	if err != nil {
		return err
	}
	if o.InsecureHTTP {
		return nil
	}
	for _, u := range eps {
		if u.Scheme != "https" {
			return fmt.Errorf("url: %s is plain HTTP; use https:// or pass --%s to send keys and data unencrypted", u.Redacted(), FlagInsecureHTTP)
		}
	}
	return nil
}

// TLSConfig reads the files and returns a tls.Config for clients: TLS 1.2
// or later, servers verified against CAFile (or the system roots), the
// client certificate presented when configured. Errors name the flag of
// the bad file.
func (o Options) TLSConfig() (*tls.Config, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.CAFile != "" {
		pool, err := pki.LoadCertPool(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", FlagCAFile, err)
		}
		cfg.RootCAs = pool
	}
	if o.CertFile != "" {
		r, err := pki.LoadReloader(pki.ReloaderConfig{CertFile: o.CertFile, KeyFile: o.KeyFile})
		if err != nil {
			return nil, fmt.Errorf("%s: %s", FlagCertFile, strings.TrimPrefix(err.Error(), "tls: "))
		}
		cfg.Certificates = []tls.Certificate{*r.Certificate()}
	}
	return cfg, nil
}

// HTTPClient returns an *http.Client whose transport is Transport over a
// clone of http.DefaultTransport (so the environment's proxy settings
// apply). It sets no overall timeout: the API clients bound each attempt
// themselves.
func (o Options) HTTPClient() (*http.Client, error) {
	base, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return nil, errors.New("http.DefaultTransport is not an *http.Transport")
	}
	t, err := o.Transport(base)
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: t}, nil
}

// Transport returns a clone of base (e.g. agent/client.NewTransport(), with
// its connection pools) that uses TLSConfig.
func (o Options) Transport(base *http.Transport) (*http.Transport, error) {
	cfg, err := o.TLSConfig()
	if err != nil {
		return nil, err
	}
	t := base.Clone()
	t.TLSClientConfig = cfg
	return t, nil
}
