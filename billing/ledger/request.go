package ledger

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/aerolithdb/aerolith/internal/jsontext"
)

// Request body limits.
const (
	// MaxUsageBodyBytes bounds a usage batch body (MaxBatchRecords records
	// of a few hundred bytes each).
	MaxUsageBodyBytes = 1 << 20
	// MaxTenantBodyBytes bounds a tenant create or update body.
	MaxTenantBodyBytes = 16 << 10
)

// UsageBatch is a decoded POST /api/v1/usage body.
type UsageBatch struct {
	// ClusterID is the cluster the body names ("" when it names none); the
	// HTTP layer checks it against the cluster its credential belongs to.
	ClusterID string
	Records   []UsageRecord
}

// CheckCluster checks the cluster the body names against the cluster the
// request authenticated as (ClusterByToken): ErrForbidden when they differ.
// A body naming no cluster is the authenticated cluster's.
func (b UsageBatch) CheckCluster(authenticated Cluster) error {
	if b.ClusterID != "" && b.ClusterID != authenticated.ID {
		return forbiddenf("cluster_id: the body names cluster %q but the credential is cluster %q's", b.ClusterID, authenticated.ID)
	}
	return nil
}

// Command returns the IngestUsage command for the batch from cluster.
func (b UsageBatch) Command(h Header, cluster string) IngestUsage {
	return IngestUsage{Header: h, ClusterID: cluster, Records: b.Records}
}

type usageBatchJSON struct {
	ClusterID string            `json:"cluster_id"`
	Records   []usageRecordJSON `json:"records"`
}

type usageRecordJSON struct {
	NodeID             string `json:"node_id"`
	Incarnation        string `json:"incarnation"`
	Seq                uint64 `json:"seq"`
	Tenant             string `json:"tenant_id"`
	Start              string `json:"start"`
	End                string `json:"end"`
	Reads              uint64 `json:"reads"`
	Writes             uint64 `json:"writes"`
	Queries            uint64 `json:"queries"`
	QueryComputeMs     uint64 `json:"query_compute_ms"`
	IngressBytes       uint64 `json:"ingress_bytes"`
	EgressBytes        uint64 `json:"egress_bytes"`
	StorageByteSeconds uint64 `json:"storage_byte_seconds"`
}

// DecodeUsageBatch decodes a usage batch body:
//
//	{"cluster_id": "cl_1",            // optional
//	 "records": [{"node_id": "n1", "incarnation": "9f0c2a", "seq": 1, "tenant_id": "t1",
//	              "start": "2026-01-01T00:00:00Z", "end": "2026-01-01T00:01:00Z",
//	              "reads": 10, "writes": 2, "queries": 1, "query_compute_ms": 5,
//	              "ingress_bytes": 100, "egress_bytes": 2000,
//	              "storage_byte_seconds": 60000}]}
//
// incarnation is optional (see UsageRecord). Decoding is strict: one JSON
// object, no unknown fields, counters non-negative integers, times RFC 3339, 1 to MaxBatchRecords records, at
// most MaxUsageBodyBytes (ErrTooLarge). Errors match ErrInvalid and name the
// field, e.g. "records[3].start: ...". The values of a record (seq, tenant,
// window) are checked when the batch is applied, record by record, so one
// bad record does not block the others.
func DecodeUsageBatch(r io.Reader) (UsageBatch, error) {
	var in usageBatchJSON
	if err := decodeStrict(r, MaxUsageBodyBytes, &in); err != nil {
		return UsageBatch{}, err
	}
	if in.ClusterID != "" {
		if e := checkID("cluster_id", in.ClusterID); e != nil {
			return UsageBatch{}, e
		}
	}
	switch {
	case len(in.Records) == 0:
		return UsageBatch{}, invalidf("records: at least one record is required")
	case len(in.Records) > MaxBatchRecords:
		return UsageBatch{}, invalidf("records: %d records exceed the batch limit of %d", len(in.Records), MaxBatchRecords)
	}
	out := UsageBatch{ClusterID: in.ClusterID, Records: make([]UsageRecord, len(in.Records))}
	for i, rec := range in.Records {
		start, err := parseWindowTime(fmt.Sprintf("records[%d].start", i), rec.Start)
		if err != nil {
			return UsageBatch{}, err
		}
		end, err := parseWindowTime(fmt.Sprintf("records[%d].end", i), rec.End)
		if err != nil {
			return UsageBatch{}, err
		}
		for j, v := range []uint64{rec.Reads, rec.Writes, rec.Queries, rec.QueryComputeMs, rec.IngressBytes, rec.EgressBytes, rec.StorageByteSeconds} {
			if v > math.MaxInt64 {
				return UsageBatch{}, invalidf("records[%d].%s: %d exceeds 2^63-1", i, counterNames[j], v)
			}
		}
		out.Records[i] = UsageRecord{
			NodeID: rec.NodeID, Incarnation: rec.Incarnation, Seq: rec.Seq, Tenant: rec.Tenant, Start: start, End: end,
			Reads: rec.Reads, Writes: rec.Writes, Queries: rec.Queries, QueryComputeMs: rec.QueryComputeMs,
			IngressBytes: rec.IngressBytes, EgressBytes: rec.EgressBytes, StorageByteSeconds: rec.StorageByteSeconds,
		}
	}
	return out, nil
}

// parseWindowTime parses an RFC 3339 time into Unix nanoseconds.
func parseWindowTime(field, s string) (int64, error) {
	if s == "" {
		return 0, invalidf("%s: required (RFC 3339 time such as 2026-01-01T00:00:00Z)", field)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, invalidf("%s: %q is not an RFC 3339 time such as 2026-01-01T00:00:00Z", field, clip(s))
	}
	if t.Year() < 1970 || t.Year() > 2261 {
		return 0, invalidf("%s: %s is out of range (1970 to 2261)", field, clip(s))
	}
	return t.UnixNano(), nil
}

// TenantRequest is a decoded POST /api/v1/tenants body.
type TenantRequest struct {
	Organization string `json:"organization"`
	Name         string `json:"name"`
	Tier         string `json:"tier"`
	Email        string `json:"email"`
}

// Command returns the CreateTenant command for the request under id.
func (t TenantRequest) Command(h Header, id string) CreateTenant {
	return CreateTenant{Header: h, ID: id, Organization: t.Organization, Name: t.Name, Tier: t.Tier, Email: t.Email}
}

// DecodeTenantRequest decodes a tenant creation body
// {"organization", "name", "tier", "email"}, all required. Decoding is
// strict (one object, no unknown fields, at most MaxTenantBodyBytes) and
// errors match ErrInvalid naming the field. Whether the tier exists is
// checked when the command is applied, against the catalog in force
// (`tier: unknown tier "gold" (want free, starter, professional or
// enterprise)`).
func DecodeTenantRequest(r io.Reader) (TenantRequest, error) {
	var t TenantRequest
	if err := decodeStrict(r, MaxTenantBodyBytes, &t); err != nil {
		return TenantRequest{}, err
	}
	for _, f := range []struct{ name, v string }{{"organization", t.Organization}, {"name", t.Name}} {
		if e := checkText(f.name, f.v, maxTextLen, true); e != nil {
			return TenantRequest{}, e
		}
	}
	if e := checkTierSyntax(t.Tier); e != nil {
		return TenantRequest{}, e
	}
	if e := checkEmail("email", t.Email); e != nil {
		return TenantRequest{}, e
	}
	return t, nil
}

// TenantPatch is a decoded PATCH /api/v1/tenants/{id} body; nil fields are
// left unchanged.
type TenantPatch struct {
	Organization *string `json:"organization"`
	Name         *string `json:"name"`
	Email        *string `json:"email"`
	Tier         *string `json:"tier"`
}

// Commands returns the commands that apply the patch to tenant: an
// UpdateTenant when organization, name or email change, and a ChangeTier
// when tier does (propose them in order).
func (p TenantPatch) Commands(h Header, tenant string) []Command {
	var out []Command
	if p.Organization != nil || p.Name != nil || p.Email != nil {
		u := UpdateTenant{Header: h, Tenant: tenant}
		if p.Organization != nil {
			u.Organization = *p.Organization
		}
		if p.Name != nil {
			u.Name = *p.Name
		}
		if p.Email != nil {
			u.Email = *p.Email
		}
		out = append(out, u)
	}
	if p.Tier != nil {
		out = append(out, ChangeTier{Header: h, Tenant: tenant, Tier: *p.Tier})
	}
	return out
}

// DecodeTenantPatch decodes a tenant update body with any of
// "organization", "name", "email" and "tier" (at least one), strictly like
// DecodeTenantRequest.
func DecodeTenantPatch(r io.Reader) (TenantPatch, error) {
	var p TenantPatch
	if err := decodeStrict(r, MaxTenantBodyBytes, &p); err != nil {
		return TenantPatch{}, err
	}
	if p.Organization == nil && p.Name == nil && p.Email == nil && p.Tier == nil {
		return TenantPatch{}, invalidf("body: at least one of organization, name, email or tier is required")
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"organization", p.Organization}, {"name", p.Name}} {
		if f.v != nil {
			if e := checkText(f.name, *f.v, maxTextLen, true); e != nil {
				return TenantPatch{}, e
			}
		}
	}
	if p.Email != nil {
		if e := checkEmail("email", *p.Email); e != nil {
			return TenantPatch{}, e
		}
	}
	if p.Tier != nil {
		if e := checkTierSyntax(*p.Tier); e != nil {
			return TenantPatch{}, e
		}
	}
	return p, nil
}

// checkTierSyntax checks a tier name's shape (tier.Tier naming rules).
func checkTierSyntax(s string) *Error {
	if s == "" {
		return invalidf("tier: required")
	}
	if len(s) > 63 || s[0] < 'a' || s[0] > 'z' {
		return invalidf("tier: invalid tier name %q (lowercase letters, digits, '-' or '_', starting with a letter)", clip(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return invalidf("tier: invalid tier name %q (lowercase letters, digits, '-' or '_', starting with a letter)", clip(s))
		}
	}
	return nil
}

// decodeStrict decodes exactly one JSON value from at most max bytes of r
// into v, rejecting unknown fields, objects with a key twice and strings
// that are not valid Unicode; errors name the field.
func decodeStrict(r io.Reader, max int64, v any) error {
	body, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return errorf(CodeTooLarge, "body: larger than %d bytes", max)
		}
		return invalidf("body: %v", err)
	}
	if int64(len(body)) > max {
		return errorf(CodeTooLarge, "body: larger than %d bytes", max)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return invalidf("body: empty (want a JSON object)")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalidf("body: unexpected data after the JSON object")
	}
	// encoding/json keeps the last of two equal keys and turns bytes that
	// are not UTF-8 into U+FFFD: a batch or a tenant would be recorded
	// other than it was sent.
	var je *jsontext.Error
	if err := jsontext.Check(body); errors.As(err, &je) {
		return invalidf("%s", je.Within("body"))
	} else if err != nil {
		return invalidf("body: %v", err)
	}
	return nil
}

// jsonError turns a decoding error into an ErrInvalid naming the field.
func jsonError(err error) *Error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return invalidf("body: invalid JSON at byte %d: %s", syn.Offset, syn.Error())
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "body"
		}
		return invalidf("%s: want %s, got JSON %s", field, jsonTypeName(typ.Type.Kind().String()), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return invalidf("body: truncated JSON")
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	if f, ok := strings.CutPrefix(msg, "unknown field "); ok {
		return invalidf("%s: unknown field", strings.Trim(f, `"`))
	}
	return invalidf("body: %s", msg)
}

func jsonTypeName(kind string) string {
	switch kind {
	case "uint64", "uint32", "int64", "int":
		return "a non-negative integer"
	case "string", "ptr":
		return "a string"
	case "slice":
		return "an array"
	case "struct":
		return "an object"
	}
	return kind
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewID returns prefix followed by 20 random base32 characters (100 bits),
// for the ids proposers generate (tenants "tn_", clusters "cl_", payments
// "pay_"). It reads crypto/rand: call it on the proposer, never in Apply.
func NewID(prefix string) string {
	var b [13]byte
	_, _ = rand.Read(b[:])
	return prefix + idEncoding.EncodeToString(b[:])[:20]
}

// NewToken returns a fresh enrollment token ("aet_" and 32 random base32
// characters, 160 bits) and its hash for RegisterCluster. Show the token to
// the caller once; the ledger stores only the hash. Call it on the
// proposer, never in Apply.
func NewToken() (token string, hash [32]byte) {
	var b [20]byte
	_, _ = rand.Read(b[:])
	token = "aet_" + idEncoding.EncodeToString(b[:])
	return token, HashToken(token)
}

// HashToken is the SHA-256 of a presented enrollment token, as
// ClusterByToken expects.
func HashToken(token string) [32]byte { return sha256.Sum256([]byte(token)) }
