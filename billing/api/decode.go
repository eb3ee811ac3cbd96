package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/aerolithdb/aerolith/billing/contract"
	"github.com/aerolithdb/aerolith/billing/ledger"
	"github.com/aerolithdb/aerolith/internal/jsonapi"
)

// Request bodies of the routes whose decoders are not the ledger's
// (tenants and usage use ledger.DecodeTenantRequest, DecodeTenantPatch and
// DecodeUsageBatch). Every decoder is strict: one JSON object, no unknown
// fields, no key twice, only valid Unicode, and each has a fuzz target.

// maxSmallBody bounds the bodies decoded here.
const maxSmallBody = 64 << 10

// clusterBody is the body of POST /api/v1/clusters.
type clusterBody struct {
	// ClusterID is optional; a "cl_..." id is generated when empty.
	ClusterID string   `json:"cluster_id"`
	Tenants   []string `json:"tenants"`
	// OwnerTenant, optional, makes the cluster its tenant's own (an
	// admin registering a dedicated cluster that the customer's tenant
	// key then manages); tenants must then be that tenant alone.
	OwnerTenant string `json:"owner_tenant"`
	// EnrollmentToken, optional, is the client's own token (of
	// contract.NewEnrollmentToken's form), which makes a repeated
	// registration recognisable; billing makes one when empty.
	EnrollmentToken string `json:"enrollment_token"`
}

// nodeBody is the body of POST /api/v1/clusters/{id}/nodes. The ledger
// checks the addresses (host:port).
type nodeBody struct {
	NodeID   string `json:"node_id"`
	HTTPAddr string `json:"http_addr"`
	RaftAddr string `json:"raft_addr"`
}

// keyBody is the body of POST /api/v1/tenants/{id}/keys (optional; the
// role defaults to read).
type keyBody struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

// finalizeBody is the optional body of POST /api/v1/invoices/{id}/finalize.
type finalizeBody struct {
	// DueAt overrides the due date (RFC 3339); default now + payment terms.
	DueAt string `json:"due_at"`
}

// paymentBody is the body of POST /api/v1/invoices/{id}/payments.
type paymentBody struct {
	AmountCents int64  `json:"amount_cents"`
	Method      string `json:"method"`
	ExternalRef string `json:"external_ref"`
	Note        string `json:"note"`
	// Credit accepts an amount above the amount due: the excess is a
	// prepayment kept as the tenant's credit.
	Credit bool `json:"credit"`
}

// decodeStrict decodes exactly one JSON object from r into v, rejecting
// unknown fields, trailing data, strings that are not valid Unicode and
// objects with a key twice (jsonapi.CheckText). An empty body is allowed when
// optional. Errors are 400s naming the problem, except reader failures
// (e.g. *http.MaxBytesError), returned as they are.
func decodeStrict(r io.Reader, v any, optional bool) error {
	body, err := io.ReadAll(io.LimitReader(r, maxSmallBody+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return jsonapi.Invalid("body: %v", err)
	}
	if len(body) > maxSmallBody {
		return jsonapi.Errorf(http.StatusRequestEntityTooLarge, jsonapi.CodeTooLarge, "body: larger than %d bytes", maxSmallBody)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if optional {
			return nil
		}
		return jsonapi.Invalid("body: empty; want a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return jsonapi.Invalid("body: unexpected data after the JSON object")
	}
	return jsonapi.CheckText(body, "body")
}

// decodeError turns an encoding/json error into a 400 naming the field.
func decodeError(err error) error {
	f := jsonapi.ParseDecodeError(err)
	switch f.Kind {
	case jsonapi.DecodeEmpty, jsonapi.DecodeTruncated:
		return jsonapi.Invalid("body: truncated JSON")
	case jsonapi.DecodeSyntax:
		return jsonapi.Invalid("body: malformed JSON at byte %d: %s", f.Offset, f.Detail)
	case jsonapi.DecodeType:
		if f.Field == "" {
			return jsonapi.Invalid("body: want a JSON object, got %s", f.Got)
		}
		return jsonapi.Invalid("%s: want %s, got %s", f.Field, f.Want, f.Got)
	case jsonapi.DecodeUnknownField:
		return jsonapi.Invalid("%s: unknown field", strings.Trim(f.Field, `"`))
	}
	return jsonapi.Invalid("body: %s", f.Detail)
}

// checkText validates optional free text: valid UTF-8, no control
// characters, at most max bytes.
func checkText(field, s string, max int) error {
	if len(s) > max {
		return jsonapi.Invalid("%s: longer than %d bytes", field, max)
	}
	if !utf8.ValidString(s) {
		return jsonapi.Invalid("%s: not valid UTF-8", field)
	}
	if strings.ContainsFunc(s, unicode.IsControl) {
		return jsonapi.Invalid("%s: contains control characters", field)
	}
	return nil
}

// decodeReason decodes the optional {"reason"} body.
func decodeReason(r *http.Request) (reasonBody, error) {
	var b reasonBody
	if err := decodeStrict(r.Body, &b, true); err != nil {
		return reasonBody{}, err
	}
	b.Reason = strings.TrimSpace(b.Reason)
	if err := checkText("reason", b.Reason, 200); err != nil {
		return reasonBody{}, err
	}
	return b, nil
}

// decodeCluster decodes a cluster registration. Tenant ids are checked by
// the ledger (each must exist and not be deleted).
func decodeCluster(r io.Reader) (clusterBody, error) {
	var b clusterBody
	if err := decodeStrict(r, &b, false); err != nil {
		return clusterBody{}, err
	}
	if b.ClusterID != "" && !validID(b.ClusterID) {
		return clusterBody{}, jsonapi.Invalid("cluster_id: invalid id %q (want 1 to 128 letters, digits, '_', '-', '.' or ':', starting with a letter or digit)", clip(b.ClusterID))
	}
	if len(b.Tenants) == 0 {
		return clusterBody{}, jsonapi.Invalid("tenants: required; list the ids of the tenants the cluster serves")
	}
	for i, t := range b.Tenants {
		if !validID(t) {
			return clusterBody{}, jsonapi.Invalid("tenants[%d]: invalid tenant id %q", i, clip(t))
		}
	}
	if b.EnrollmentToken != "" {
		if err := contract.CheckEnrollmentToken(b.EnrollmentToken); err != nil {
			return clusterBody{}, jsonapi.Invalid("enrollment_token: %v", err)
		}
	}
	if b.OwnerTenant != "" && (len(b.Tenants) != 1 || b.Tenants[0] != b.OwnerTenant) {
		return clusterBody{}, jsonapi.Invalid("owner_tenant: a cluster owned by tenant %q serves that tenant only; set tenants to [%q]", clip(b.OwnerTenant), clip(b.OwnerTenant))
	}
	return b, nil
}

// decodeNode decodes a node registration; the ledger validates the
// addresses.
func decodeNode(r io.Reader) (nodeBody, error) {
	var b nodeBody
	if err := decodeStrict(r, &b, false); err != nil {
		return nodeBody{}, err
	}
	if !validID(b.NodeID) {
		return nodeBody{}, jsonapi.Invalid("node_id: invalid id %q (want 1 to 128 letters, digits, '_', '-', '.' or ':', starting with a letter or digit)", clip(b.NodeID))
	}
	for _, f := range []struct{ name, v string }{{"http_addr", b.HTTPAddr}, {"raft_addr", b.RaftAddr}} {
		if f.v == "" {
			return nodeBody{}, jsonapi.Invalid("%s: required (host:port the node advertises)", f.name)
		}
		if err := checkText(f.name, f.v, 255); err != nil {
			return nodeBody{}, err
		}
	}
	return b, nil
}

// decodeKey decodes the optional body of a key creation.
func decodeKey(r io.Reader) (keyBody, error) {
	var b keyBody
	if err := decodeStrict(r, &b, true); err != nil {
		return keyBody{}, err
	}
	if err := checkText("name", b.Name, 200); err != nil {
		return keyBody{}, err
	}
	switch b.Role {
	case "":
		b.Role = ledger.APIKeyRoleRead
	case ledger.APIKeyRoleRead, ledger.APIKeyRoleTenant:
	default:
		return keyBody{}, jsonapi.Invalid("role: %q is not offered (want %s: reads the tenant's own record, usage and invoices; or %s: also registers, scales and deregisters its clusters and manages its keys)",
			clip(b.Role), ledger.APIKeyRoleRead, ledger.APIKeyRoleTenant)
	}
	return b, nil
}

// decodeFinalize decodes the optional body of a finalization.
func decodeFinalize(r io.Reader) (time.Time, error) {
	var b finalizeBody
	if err := decodeStrict(r, &b, true); err != nil {
		return time.Time{}, err
	}
	if b.DueAt == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, b.DueAt)
	if err != nil {
		return time.Time{}, jsonapi.Invalid("due_at: %q is not an RFC 3339 time such as 2026-02-15T00:00:00Z", clip(b.DueAt))
	}
	return t, nil
}

// decodePayment decodes a manual payment.
func decodePayment(r io.Reader) (paymentBody, error) {
	var b paymentBody
	if err := decodeStrict(r, &b, false); err != nil {
		return paymentBody{}, err
	}
	if b.AmountCents <= 0 {
		return paymentBody{}, jsonapi.Invalid("amount_cents: must be a positive number of cents (got %d)", b.AmountCents)
	}
	switch b.Method {
	case "":
		b.Method = "manual"
	case "manual", "admin":
	default:
		return paymentBody{}, jsonapi.Invalid("method: %q is not accepted here (want manual or admin)", clip(b.Method))
	}
	if strings.TrimSpace(b.ExternalRef) == "" {
		return paymentBody{}, jsonapi.Invalid("external_ref: required (the bank, cheque or other reference; unique across payments)")
	}
	if err := checkText("external_ref", b.ExternalRef, 200); err != nil {
		return paymentBody{}, err
	}
	if err := checkText("note", b.Note, 1000); err != nil {
		return paymentBody{}, err
	}
	return b, nil
}

// clip shortens s for error messages.
func clip(s string) string {
	if len(s) <= 64 {
		return s
	}
	return fmt.Sprintf("%s...", s[:61])
}

// validID accepts the ledger's id alphabet: 1-128 letters, digits, '_',
// '-', '.' or ':', starting with a letter or digit.
func validID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || !strings.ContainsRune("_-.:", rune(c))) {
			return false
		}
	}
	return true
}
