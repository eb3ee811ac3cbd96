package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/aerolithdb/aerolith/agent/document"
	"github.com/aerolithdb/aerolith/internal/jsonapi"
)

// Request bodies. Every decoder is strict: one JSON value, no unknown
// fields, size-limited by the caller (http.MaxBytesReader). Each has a fuzz
// target.

// createBody is the body of POST /collections/{c}/documents.
type createBody struct {
	ID   string          `json:"id"`
	Data json.RawMessage `json:"data"`
}

// putBody is the body of PUT /collections/{c}/documents/{id}.
type putBody struct {
	Data json.RawMessage `json:"data"`
}

// queryBody is the body of POST /collections/{c}/query.
type queryBody struct {
	Filter  json.RawMessage `json:"filter"`
	Sort    json.RawMessage `json:"sort"`
	Limit   int             `json:"limit"`
	Offset  int             `json:"offset"`
	Explain bool            `json:"explain"`
}

// batchBody is the body of POST /batch.
type batchBody struct {
	Operations []batchOp `json:"operations"`
}

// batchOp is one operation of a batch.
type batchOp struct {
	Op         string          `json:"op"`
	Collection string          `json:"collection"`
	ID         string          `json:"id"`
	Data       json.RawMessage `json:"data"`
	IfVersion  uint64          `json:"if_version"`
}

// indexBody is the body of POST /collections/{c}/indexes.
type indexBody struct {
	Field string `json:"field"`
}

// memberBody is the body of POST /cluster/members.
type memberBody struct {
	NodeID   string `json:"node_id"`
	RaftAddr string `json:"raft_addr"`
	HTTPAddr string `json:"http_addr"`
}

// MaxBatchOps is the most operations one batch (POST /api/v1/batch) may
// hold; clients check it before sending (the CLI's batch import
// --batch-size).
const MaxBatchOps = 1000

// decodeStrict decodes exactly one JSON value from r into v, rejecting
// unknown fields, trailing data, strings that are not valid Unicode and
// duplicate object keys at any depth (see jsonapi.CheckText). Errors are *jsonapi.Error
// (400) except when r fails (e.g. *http.MaxBytesError), which is returned
// as is.
func decodeStrict(r io.Reader, v any) error {
	body, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	// Anything but whitespace after the value is an error.
	var extra json.RawMessage
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
		return jsonapi.CheckText(body, "invalid request body")
	case err == nil:
		return jsonapi.Invalid("invalid request body: want a single JSON object, found more data after it")
	default:
		var se *json.SyntaxError
		if errors.As(err, &se) || errors.Is(err, io.ErrUnexpectedEOF) {
			return jsonapi.Invalid("invalid request body: want a single JSON object, found more data after it")
		}
		return decodeError(err)
	}
}

// decodeError turns an encoding/json error into a 400 that names the
// problem and, where known, the field.
func decodeError(err error) error {
	f := jsonapi.ParseDecodeError(err)
	switch f.Kind {
	case jsonapi.DecodeEmpty:
		return jsonapi.Invalid("request body is empty; want a JSON object")
	case jsonapi.DecodeTruncated:
		return jsonapi.Invalid("invalid request body: JSON ends early")
	case jsonapi.DecodeSyntax:
		return jsonapi.Invalid("invalid request body: malformed JSON at byte %d: %s", f.Offset, f.Detail)
	case jsonapi.DecodeType:
		if f.Field == "" {
			return jsonapi.Invalid("invalid request body: want a JSON object, got %s", f.Got)
		}
		return jsonapi.Invalid("invalid request body: field %q: want %s, got %s", f.Field, f.Want, f.Got)
	case jsonapi.DecodeUnknownField:
		return jsonapi.Invalid("invalid request body: unknown field %s", f.Field)
	}
	var ae *jsonapi.Error
	if errors.As(err, &ae) {
		return ae
	}
	if f.Kind == jsonapi.DecodeOther {
		return jsonapi.Invalid("invalid request body: %s", f.Detail)
	}
	// Reader errors (body too large, connection reset) keep their identity.
	return err
}

// checkData validates a document's data: present, a JSON object, at most
// maxBytes once compacted. It returns the compacted form. field names the
// JSON field for messages ("data", "operations[3].data").
func checkData(field string, data json.RawMessage, maxBytes int) (json.RawMessage, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return nil, jsonapi.Invalid("%s: required; want a JSON object", field)
	}
	if trimmed[0] != '{' {
		return nil, jsonapi.Invalid("%s: must be a JSON object", field)
	}
	var buf bytes.Buffer
	buf.Grow(len(trimmed))
	if err := json.Compact(&buf, trimmed); err != nil {
		return nil, jsonapi.Invalid("%s: %v", field, err)
	}
	if maxBytes > 0 && buf.Len() > maxBytes {
		return nil, jsonapi.Errorf(http.StatusRequestEntityTooLarge, jsonapi.CodeTooLarge, "%s: document is %d bytes, the limit is %d", field, buf.Len(), maxBytes)
	}
	return buf.Bytes(), nil
}

// checkID checks a document id given in a body (field names it): one a
// URL path can carry (document.ValidateRequestID).
func checkID(field, id string) error {
	if err := document.ValidateRequestID(id); err != nil {
		return jsonapi.Invalid("%s: %v", field, err)
	}
	return nil
}

// decodeCreate decodes and checks a create-document body.
func decodeCreate(r io.Reader, maxDoc int) (createBody, error) {
	var b createBody
	if err := decodeStrict(r, &b); err != nil {
		return createBody{}, err
	}
	if b.ID != "" {
		if err := checkID("id", b.ID); err != nil {
			return createBody{}, err
		}
	}
	data, err := checkData("data", b.Data, maxDoc)
	if err != nil {
		return createBody{}, err
	}
	b.Data = data
	return b, nil
}

// decodePut decodes and checks a put-document body.
func decodePut(r io.Reader, maxDoc int) (putBody, error) {
	var b putBody
	if err := decodeStrict(r, &b); err != nil {
		return putBody{}, err
	}
	data, err := checkData("data", b.Data, maxDoc)
	if err != nil {
		return putBody{}, err
	}
	b.Data = data
	return b, nil
}

// decodeQuery decodes and checks a query body. Filter and sort, when
// present, must be JSON objects; their contents are checked by the query
// engine.
func decodeQuery(r io.Reader) (queryBody, error) {
	var b queryBody
	if err := decodeStrict(r, &b); err != nil {
		return queryBody{}, err
	}
	var err error
	if b.Filter, err = optionalObject("filter", b.Filter); err != nil {
		return queryBody{}, err
	}
	if b.Sort, err = optionalObject("sort", b.Sort); err != nil {
		return queryBody{}, err
	}
	if b.Limit < 0 {
		return queryBody{}, jsonapi.Invalid("limit: must be >= 0")
	}
	if b.Offset < 0 {
		return queryBody{}, jsonapi.Invalid("offset: must be >= 0")
	}
	return b, nil
}

// optionalObject returns raw when it is absent/null (as nil) or a JSON
// object; anything else is an error naming field.
func optionalObject(field string, raw json.RawMessage) (json.RawMessage, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return nil, nil
	}
	if t[0] != '{' {
		return nil, jsonapi.Invalid("%s: must be a JSON object", field)
	}
	return t, nil
}

// decodeBatch decodes and checks a batch body. Messages name the operation
// index: "operations[2].op: ...".
func decodeBatch(r io.Reader, maxDoc int) (batchBody, error) {
	var b batchBody
	if err := decodeStrict(r, &b); err != nil {
		return batchBody{}, err
	}
	if len(b.Operations) == 0 {
		return batchBody{}, jsonapi.Invalid("operations: required; want at least one operation")
	}
	if len(b.Operations) > MaxBatchOps {
		return batchBody{}, jsonapi.Invalid("operations: %d operations, the limit is %d per batch", len(b.Operations), MaxBatchOps)
	}
	for i := range b.Operations {
		op := &b.Operations[i]
		name := fmt.Sprintf("operations[%d]", i)
		if op.Collection == "" {
			return batchBody{}, jsonapi.Invalid("%s.collection: required", name)
		}
		if op.ID != "" {
			if err := checkID(name+".id", op.ID); err != nil {
				return batchBody{}, err
			}
		}
		switch op.Op {
		case "put":
			data, err := checkData(name+".data", op.Data, maxDoc)
			if err != nil {
				return batchBody{}, err
			}
			op.Data = data
		case "delete":
			if op.ID == "" {
				return batchBody{}, jsonapi.Invalid("%s.id: required for delete", name)
			}
			if len(bytes.TrimSpace(op.Data)) > 0 && !bytes.Equal(bytes.TrimSpace(op.Data), []byte("null")) {
				return batchBody{}, jsonapi.Invalid("%s.data: not allowed for delete", name)
			}
			op.Data = nil
		case "":
			return batchBody{}, jsonapi.Invalid("%s.op: required; want put or delete", name)
		default:
			return batchBody{}, jsonapi.Invalid("%s.op: %q is unknown; want put or delete", name, op.Op)
		}
	}
	return b, nil
}

// decodeIndex decodes and checks an index body.
func decodeIndex(r io.Reader) (indexBody, error) {
	var b indexBody
	if err := decodeStrict(r, &b); err != nil {
		return indexBody{}, err
	}
	if b.Field == "" {
		return indexBody{}, jsonapi.Invalid("field: required; want a dot path such as \"a.b\"")
	}
	return b, nil
}

// decodeMember decodes and checks a join request.
func decodeMember(r io.Reader) (memberBody, error) {
	var b memberBody
	if err := decodeStrict(r, &b); err != nil {
		return memberBody{}, err
	}
	if b.NodeID == "" {
		return memberBody{}, jsonapi.Invalid("node_id: required")
	}
	if strings.ContainsFunc(b.NodeID, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '/' }) || len(b.NodeID) > 128 {
		return memberBody{}, jsonapi.Invalid("node_id: %q must be at most 128 characters without whitespace, control characters or '/'", b.NodeID)
	}
	if err := checkHostPort("raft_addr", b.RaftAddr, true); err != nil {
		return memberBody{}, err
	}
	if err := checkHostPort("http_addr", b.HTTPAddr, false); err != nil {
		return memberBody{}, err
	}
	return b, nil
}

// checkHostPort checks that addr is host:port with a specific host and a
// port in 1-65535.
func checkHostPort(field, addr string, required bool) error {
	if addr == "" {
		if required {
			return jsonapi.Invalid("%s: required; want host:port", field)
		}
		return nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return jsonapi.Invalid("%s: %q is not host:port", field, addr)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return jsonapi.Invalid("%s: %q: port must be a number in 1-65535", field, addr)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		return jsonapi.Invalid("%s: %q: host must be an address other nodes can dial", field, addr)
	}
	return nil
}
