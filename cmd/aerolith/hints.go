package main

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/spf13/cobra"

	"github.com/aerolithdb/aerolith/internal/apiclient"
	"github.com/aerolithdb/aerolith/internal/clientopts"
)

// The credentials a command sends, recorded on its group command so an
// authentication error can name the one the command needs.
const (
	keyAnnotation = "aerolith/key"
	keyTenant     = "tenant"
	keyTenantAdm  = "tenant-admin" // collections and indexes: role admin
	keyAdmin      = "admin"
	keyBilling    = "billing"
)

// upCAHint tells where aerolith up keeps the CA its servers' certificates
// come from (it prints the full path at start).
const upCAHint = "aerolith up prints it: <data-dir>/pki/ca.crt"

// needsKey records on cmd which credential its subcommands send.
func needsKey(cmd *cobra.Command, kind string) {
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations[keyAnnotation] = kind
}

// keyKind returns the credential cmd sends ("" for commands that talk to
// no server).
func keyKind(cmd *cobra.Command) string {
	for c := cmd; c != nil; c = c.Parent() {
		if k, ok := c.Annotations[keyAnnotation]; ok {
			return k
		}
	}
	return ""
}

// explainError adds to err, returned by cmd, what to do about it when it
// is a TLS mismatch or a refused credential: the errors themselves
// ("certificate signed by unknown authority", 401) do not say which flag
// or variable fixes them.
func explainError(cmd *cobra.Command, err error) error {
	err = flagError(cmd, err)
	kind := keyKind(cmd)
	if kind == "" || errors.Is(err, errNotConfirmed) {
		return err
	}
	if hint := tlsHint(kind, err); hint != "" {
		return fmt.Errorf("%w; %s", err, hint)
	}
	if hint := keyHint(kind, err); hint != "" {
		return fmt.Errorf("%w; %s", err, hint)
	}
	return err
}

// tlsHint explains a client/server disagreement about TLS.
func tlsHint(kind string, err error) string {
	urlFlag := "--url or AEROLITH_URL"
	if kind == keyBilling {
		urlFlag = "--billing-url or AEROLITH_BILLING_URL"
	}
	caFlag := fmt.Sprintf("--%s or %s", clientopts.FlagCAFile, clientopts.EnvCAFile)
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var apiErr *apiclient.Error
	switch {
	case errors.As(err, &apiErr) && apiErr.Status == http.StatusBadRequest && strings.Contains(apiErr.Message, "HTTP request to an HTTPS server"):
		return fmt.Sprintf("the server speaks HTTPS: use an https:// URL (%s) and pass the CA that signed its certificate with %s (%s)", urlFlag, caFlag, upCAHint)
	case errors.As(err, &unknown):
		return fmt.Sprintf("the server's certificate is signed by a CA this client does not trust: pass the cluster's CA with %s (%s)", caFlag, upCAHint)
	case errors.As(err, &host):
		return fmt.Sprintf("use a host name or address the certificate names in the URL (%s); aerolith up's certificates name 127.0.0.1 and localhost", urlFlag)
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return fmt.Sprintf("the server speaks plain HTTP: use an http:// URL (%s; off loopback also --%s)", urlFlag, clientopts.FlagInsecureHTTP)
	}
	return ""
}

// keyHint names the credential a command needs when the server refused
// the one it sent (or that none was sent).
func keyHint(kind string, err error) string {
	unauthenticated := apiclient.HasStatus(err, http.StatusUnauthorized)
	forbidden := apiclient.HasStatus(err, http.StatusForbidden)
	switch {
	case kind == keyAdmin && (unauthenticated || forbidden):
		return "this command needs the cluster admin key: --admin-key or " + envAdminKey
	case (kind == keyTenant || kind == keyTenantAdm) && unauthenticated:
		return "this command needs a tenant API key: --key or " + envKey + " (the cluster admin creates one with: aerolith key create --tenant <tenant> --role readwrite)"
	case kind == keyTenantAdm && forbidden:
		return "collections and indexes need a tenant key with role admin: --key or " + envKey + " (the cluster admin creates one with: aerolith key create --tenant <tenant> --role admin)"
	case kind == keyBilling && unauthenticated:
		return "this command needs a billing key: --key or " + envBillingKey
	case kind == keyBilling && forbidden:
		return "this command needs the billing admin key: --key or " + envBillingKey
	}
	return ""
}
