package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/agent/auth"
	"github.com/aerolithdb/aerolith/agent/document"
	"github.com/aerolithdb/aerolith/internal/jsonapi"
	"github.com/aerolithdb/aerolith/store"
)

// newDocumentID is the default Config.NewID.
func newDocumentID() string { return document.NewID() }

// pageBody is the answer of list and query.
type pageBody struct {
	Documents []document.Doc `json:"documents"`
	Total     int            `json:"total"`
	Limit     int            `json:"limit"`
	Offset    int            `json:"offset"`
	Explain   *explainBody   `json:"explain,omitempty"`
}

// explainBody says how a query was served.
type explainBody struct {
	// Index is the indexed field used, "" for a full collection scan.
	Index string `json:"index"`
	// Scanned counts documents fetched and evaluated.
	Scanned int    `json:"scanned"`
	Plan    string `json:"plan"`
}

// present returns d ready to serve: timestamps in UTC, and data that is
// valid UTF-8. The API refuses invalid UTF-8, but a document stored before
// it did may hold some (only inside strings: JSON syntax is ASCII); served
// as is it would make the whole answer invalid JSON, so each invalid
// sequence is answered as U+FFFD, as encoding/json does for Go strings.
func present(d document.Doc) document.Doc {
	d.CreatedAt = d.CreatedAt.UTC()
	d.UpdatedAt = d.UpdatedAt.UTC()
	if !utf8.Valid(d.Data) {
		d.Data = bytes.ToValidUTF8(d.Data, []byte("\uFFFD"))
	}
	return d
}

func presentAll(ds []document.Doc) []document.Doc {
	out := make([]document.Doc, len(ds))
	for i, d := range ds {
		out[i] = present(d)
	}
	return out
}

func etag(version uint64) string { return `"` + strconv.FormatUint(version, 10) + `"` }

// consistency reads ?consistency= (default linearizable).
func consistency(r *http.Request) (store.Consistency, error) {
	c, err := store.ParseConsistency(r.URL.Query().Get("consistency"))
	if err != nil {
		return 0, jsonapi.Invalid("consistency: %v", err)
	}
	return c, nil
}

// queryInt reads an optional non-negative integer query parameter.
func queryInt(r *http.Request, name string) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, jsonapi.Invalid("%s: %q is not an integer", name, v)
	}
	if n < 0 {
		return 0, jsonapi.Invalid("%s: must be >= 0", name)
	}
	return n, nil
}

// ifMatch reads If-Match as a document version: 3 or "3". Absent is 0
// (unconditional).
func ifMatch(r *http.Request) (uint64, error) {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" {
		return 0, nil
	}
	if strings.HasPrefix(h, "W/") {
		return 0, jsonapi.Invalid("If-Match: weak ETags are not supported; send the document version, e.g. If-Match: \"3\"")
	}
	v := h
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n == 0 {
		return 0, jsonapi.Invalid("If-Match: %q is not a document version; want e.g. 3 or \"3\"", h)
	}
	return n, nil
}

// ifNoneMatchAny reports whether If-None-Match is "*" (create only). Any
// other value is rejected on writes.
func ifNoneMatchAny(r *http.Request) (bool, error) {
	h := strings.TrimSpace(r.Header.Get("If-None-Match"))
	switch h {
	case "":
		return false, nil
	case "*":
		return true, nil
	}
	return false, jsonapi.Invalid("If-None-Match: only * is supported on writes")
}

// propose replicates one command of ops and returns its result. A failed
// command comes back as its *document.Error. Limits the command was applied
// past (Result.Exceeded) are reported on w's header.
func (s *Server) propose(w http.ResponseWriter, r *http.Request, ops ...document.Op) (document.Result, error) {
	ctx := r.Context()
	cmd, err := document.EncodeCommand(document.Command{Ops: ops})
	if err != nil {
		return document.Result{}, fmt.Errorf("encode command: %w", err)
	}
	out, _, err := s.cfg.Store.Propose(ctx, cmd)
	if err != nil {
		return document.Result{}, err
	}
	res, err := document.DecodeResult(out)
	if err != nil {
		return document.Result{}, fmt.Errorf("decode result: %w", err)
	}
	if res.Err != nil {
		return document.Result{}, res.Err
	}
	s.exceeded(w, r, res.Exceeded)
	return res, nil
}

// firstDoc returns the document the single put of a command produced.
func firstDoc(res document.Result) (document.Doc, error) {
	if len(res.Docs) == 0 {
		return document.Doc{}, errors.New("state machine returned no document for a put")
	}
	return res.Docs[0], nil
}

func (s *Server) now() int64 { return s.cfg.Now().UnixNano() }

func documentPath(coll, id string) string {
	return "/api/v1/collections/" + url.PathEscape(coll) + "/documents/" + url.PathEscape(id)
}

// createDocument: POST /api/v1/collections/{c}/documents → 201, 409 if the
// id exists.
func (s *Server) createDocument(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	coll := r.PathValue("c")
	b, err := decodeCreate(r.Body, s.cfg.MaxDocumentBytes)
	if err != nil {
		return err
	}
	id := b.ID
	if id == "" {
		id = s.cfg.NewID()
	}
	res, err := s.propose(w, r, document.Op{
		Kind: document.OpPut, Tenant: p.Tenant, Collection: coll, ID: id,
		Data: b.Data, IfAbsent: true, Time: s.now(),
	})
	if err != nil {
		return err
	}
	d, err := firstDoc(res)
	if err != nil {
		return err
	}
	w.Header().Set("Location", documentPath(coll, d.ID))
	w.Header().Set("ETag", etag(d.Version))
	jsonapi.WriteJSON(w, http.StatusCreated, present(d))
	return nil
}

// getDocument: GET /api/v1/collections/{c}/documents/{id}.
func (s *Server) getDocument(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	c, err := consistency(r)
	if err != nil {
		return err
	}
	var d document.Doc
	err = s.cfg.Store.View(r.Context(), c, func(tx *bolt.Tx) error {
		var err error
		d, err = s.cfg.Docs.Get(tx, p.Tenant, r.PathValue("c"), r.PathValue("id"))
		return err
	})
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etag(d.Version))
	if inm := strings.TrimSpace(r.Header.Get("If-None-Match")); inm != "" && (inm == "*" || inm == etag(d.Version)) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	jsonapi.WriteJSON(w, http.StatusOK, present(d))
	return nil
}

// putDocument: PUT /api/v1/collections/{c}/documents/{id} is an upsert:
// 201 when created, 200 when updated. If-Match makes it conditional (412 on
// mismatch or when missing); If-None-Match: * makes it create-only (412
// when the document exists).
func (s *Server) putDocument(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	ver, err := ifMatch(r)
	if err != nil {
		return err
	}
	absent, err := ifNoneMatchAny(r)
	if err != nil {
		return err
	}
	if ver != 0 && absent {
		return jsonapi.Invalid("If-Match and If-None-Match: * cannot be combined")
	}
	b, err := decodePut(r.Body, s.cfg.MaxDocumentBytes)
	if err != nil {
		return err
	}
	coll, id := r.PathValue("c"), r.PathValue("id")
	res, err := s.propose(w, r, document.Op{
		Kind: document.OpPut, Tenant: p.Tenant, Collection: coll, ID: id,
		Data: b.Data, IfVersion: ver, IfAbsent: absent, Time: s.now(),
	})
	if absent && errors.Is(err, document.ErrConflict) {
		// A failed precondition header is 412 (RFC 9110 13.1.2); 409
		// stays the answer of POST, whose create-only is no header.
		return jsonapi.Errorf(http.StatusPreconditionFailed, jsonapi.CodePreconditionFailed, "document %q already exists in collection %q (If-None-Match: * creates only)", clipText(id), coll)
	}
	if err != nil {
		return err
	}
	d, err := firstDoc(res)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etag(d.Version))
	status := http.StatusOK
	if d.Version == 1 {
		status = http.StatusCreated
		w.Header().Set("Location", documentPath(coll, d.ID))
	}
	jsonapi.WriteJSON(w, status, present(d))
	return nil
}

// deleteDocument: DELETE /api/v1/collections/{c}/documents/{id} → 204, 404
// if missing; If-Match supported.
func (s *Server) deleteDocument(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	ver, err := ifMatch(r)
	if err != nil {
		return err
	}
	_, err = s.propose(w, r, document.Op{
		Kind: document.OpDelete, Tenant: p.Tenant, Collection: r.PathValue("c"), ID: r.PathValue("id"),
		IfVersion: ver, Time: s.now(),
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// listDocuments: GET /api/v1/collections/{c}/documents?limit=&offset=.
func (s *Server) listDocuments(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	if err := knownQuery(r, "limit", "offset", "consistency"); err != nil {
		return err
	}
	c, err := consistency(r)
	if err != nil {
		return err
	}
	limit, err := queryInt(r, "limit")
	if err != nil {
		return err
	}
	offset, err := queryInt(r, "offset")
	if err != nil {
		return err
	}
	var page document.Page
	err = s.cfg.Store.View(r.Context(), c, func(tx *bolt.Tx) error {
		var err error
		page, err = s.cfg.Docs.List(tx, p.Tenant, r.PathValue("c"), limit, offset)
		return err
	})
	if err != nil {
		return err
	}
	jsonapi.WriteJSON(w, http.StatusOK, pageBody{Documents: presentAll(page.Documents), Total: page.Total, Limit: page.Limit, Offset: page.Offset})
	return nil
}

// query: POST /api/v1/collections/{c}/query. For a governed tenant the
// query is bounded by the tier's max query duration: past it the answer is
// 408 query_timeout.
func (s *Server) query(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	c, err := consistency(r)
	if err != nil {
		return err
	}
	b, err := decodeQuery(r.Body)
	if err != nil {
		return err
	}
	var (
		page document.Page
		ex   document.Explain
	)
	run := func(ctx context.Context) error {
		return s.cfg.Store.View(ctx, c, func(tx *bolt.Tx) error {
			var err error
			page, ex, err = s.cfg.Docs.QueryContext(ctx, tx, p.Tenant, r.PathValue("c"), document.QueryRequest{
				Filter: b.Filter, Sort: b.Sort, Limit: b.Limit, Offset: b.Offset,
			})
			return err
		})
	}
	st := stateOf(w)
	start := time.Now()
	if st != nil && st.enf != nil {
		err = s.boundedQuery(r.Context(), st, run)
	} else {
		err = run(r.Context())
	}
	if st != nil {
		st.query = time.Since(start)
	}
	if err != nil {
		return err
	}
	body := pageBody{Documents: presentAll(page.Documents), Total: page.Total, Limit: page.Limit, Offset: page.Offset}
	if b.Explain {
		body.Explain = &explainBody{Index: ex.Index, Scanned: ex.Scanned, Plan: ex.Plan}
	}
	jsonapi.WriteJSON(w, http.StatusOK, body)
	return nil
}

// boundedQuery runs a query under the enforcer's QueryContext. The answer
// comes at the limit at the latest; the scan itself stops there too
// (document.QueryContext checks the context every few hundred documents) and
// its result is discarded. A query that ends after the limit is refused as
// well, so the answer does not depend on a race.
func (s *Server) boundedQuery(ctx context.Context, st *reqState, run func(context.Context) error) error {
	qctx, cancel := st.enf.QueryContext(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(qctx) }()
	var err error
	select {
	case err = <-done:
	case <-qctx.Done():
	}
	deadline, _ := qctx.Deadline()
	if ctx.Err() == nil && (errors.Is(qctx.Err(), context.DeadlineExceeded) || !time.Now().Before(deadline)) {
		return decisionError(st.enf.QueryExceeded())
	}
	if err == nil && qctx.Err() != nil {
		return qctx.Err() // the client went away
	}
	return err
}
