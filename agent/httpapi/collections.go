package httpapi

import (
	"errors"
	"fmt"
	"net/http"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/agent/auth"
	"github.com/aerolithdb/aerolith/agent/document"
	"github.com/aerolithdb/aerolith/internal/jsonapi"
)

// collectionBody describes one collection.
type collectionBody struct {
	Name      string   `json:"name"`
	Documents int      `json:"documents"`
	Bytes     int64    `json:"bytes"`
	Indexes   []string `json:"indexes"`
}

// indexInfo describes one index (the answer of index creation).
type indexInfo struct {
	Field string `json:"field"`
}

func (s *Server) collections(r *http.Request, p auth.Principal) ([]document.CollectionInfo, error) {
	c, err := consistency(r)
	if err != nil {
		return nil, err
	}
	var infos []document.CollectionInfo
	err = s.cfg.Store.View(r.Context(), c, func(tx *bolt.Tx) error {
		var err error
		infos, err = document.Collections(tx, p.Tenant)
		return err
	})
	return infos, err
}

// listCollections: GET /api/v1/collections.
func (s *Server) listCollections(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	if err := knownQuery(r, "consistency"); err != nil {
		return err
	}
	infos, err := s.collections(r, p)
	if err != nil {
		return err
	}
	out := make([]collectionBody, 0, len(infos))
	for _, ci := range infos {
		idx := ci.Indexes
		if idx == nil {
			idx = []string{}
		}
		out = append(out, collectionBody{Name: ci.Name, Documents: ci.Documents, Bytes: ci.Bytes, Indexes: idx})
	}
	jsonapi.WriteJSON(w, http.StatusOK, map[string]any{"collections": out})
	return nil
}

// createCollection: PUT /api/v1/collections/{c} creates an empty
// collection: 201 when created, 200 when it already exists (idempotent, so
// a retried create or a Terraform apply after a lost answer succeeds). It
// goes through raft like index creation and counts against the tenant's
// max_collections quota like a collection's first document.
func (s *Server) createCollection(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	if err := knownQuery(r); err != nil {
		return err
	}
	name := r.PathValue("c")
	status := http.StatusCreated
	_, err := s.propose(w, r, document.Op{Kind: document.OpCreateCollection, Tenant: p.Tenant, Collection: name, Time: s.now()})
	switch {
	case errors.Is(err, document.ErrConflict):
		status = http.StatusOK
	case err != nil:
		return err
	}
	jsonapi.WriteJSON(w, status, collectionBody{Name: name, Indexes: []string{}})
	return nil
}

// dropCollection: DELETE /api/v1/collections/{c} → 204.
func (s *Server) dropCollection(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	if _, err := s.propose(w, r, document.Op{Kind: document.OpDropCollection, Tenant: p.Tenant, Collection: r.PathValue("c"), Time: s.now()}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// listIndexes: GET /api/v1/collections/{c}/indexes answers
// {"indexes":["a.b",...]}; 404 if the collection does not exist.
func (s *Server) listIndexes(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	if err := knownQuery(r, "consistency"); err != nil {
		return err
	}
	infos, err := s.collections(r, p)
	if err != nil {
		return err
	}
	name := r.PathValue("c")
	for _, ci := range infos {
		if ci.Name != name {
			continue
		}
		out := ci.Indexes
		if out == nil {
			out = []string{}
		}
		jsonapi.WriteJSON(w, http.StatusOK, map[string]any{"indexes": out})
		return nil
	}
	return jsonapi.NotFound("collection %q not found", name)
}

// createIndex: POST /api/v1/collections/{c}/indexes → 201, 409 if it exists.
func (s *Server) createIndex(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	b, err := decodeIndex(r.Body)
	if err != nil {
		return err
	}
	noteOf(r).Set("index:" + p.Tenant + "/" + clipText(r.PathValue("c")) + "/" + clipText(b.Field))
	if _, err := s.propose(w, r, document.Op{Kind: document.OpCreateIndex, Tenant: p.Tenant, Collection: r.PathValue("c"), Field: b.Field, Time: s.now()}); err != nil {
		return err
	}
	jsonapi.WriteJSON(w, http.StatusCreated, indexInfo{Field: b.Field})
	return nil
}

// dropIndex: DELETE /api/v1/collections/{c}/indexes/{field} → 204.
func (s *Server) dropIndex(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	if _, err := s.propose(w, r, document.Op{Kind: document.OpDropIndex, Tenant: p.Tenant, Collection: r.PathValue("c"), Field: r.PathValue("field"), Time: s.now()}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// batchResult is the outcome of one batch operation.
type batchResult struct {
	Op         string        `json:"op"`
	Collection string        `json:"collection"`
	ID         string        `json:"id"`
	Version    uint64        `json:"version,omitempty"`
	Document   *document.Doc `json:"document,omitempty"`
}

// batch: POST /api/v1/batch applies all operations atomically as one
// command (one raft entry). A failing operation fails the batch; the error
// message names its index: "operations[2]: ...".
func (s *Server) batch(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	b, err := decodeBatch(r.Body, s.cfg.MaxDocumentBytes)
	if err != nil {
		return err
	}
	if st := stateOf(w); st != nil {
		st.writes = len(b.Operations)
	}
	now := s.now()
	ops := make([]document.Op, len(b.Operations))
	for i, bo := range b.Operations {
		op := document.Op{Tenant: p.Tenant, Collection: bo.Collection, ID: bo.ID, IfVersion: bo.IfVersion, Time: now}
		switch bo.Op {
		case "put":
			op.Kind = document.OpPut
			op.Data = bo.Data
			if op.ID == "" {
				op.ID = s.cfg.NewID()
			}
		case "delete":
			op.Kind = document.OpDelete
		}
		ops[i] = op
	}
	res, err := s.propose(w, r, ops...)
	if err != nil {
		return batchError(err)
	}
	// The state machine reports one document per operation, in order.
	if len(res.Docs) != len(ops) {
		return fmt.Errorf("state machine returned %d documents for %d operations", len(res.Docs), len(ops))
	}
	results := make([]batchResult, len(ops))
	for i, op := range ops {
		results[i] = batchResult{Op: b.Operations[i].Op, Collection: op.Collection, ID: op.ID}
		if op.Kind == document.OpPut {
			d := present(res.Docs[i])
			results[i].Document = &d
			results[i].Version = d.Version
		}
	}
	jsonapi.WriteJSON(w, http.StatusOK, map[string]any{"results": results})
	return nil
}

// batchError prefixes a document error with the index of the operation that
// failed.
func batchError(err error) error {
	var de *document.Error
	if !errors.As(err, &de) {
		return err
	}
	e, internal := classify(err)
	if internal {
		return err
	}
	be := jsonapi.Errorf(e.Status, e.Code, "operations[%d]: %s", de.OpIndex, e.Message)
	be.Quota, be.RetryAfter = e.Quota, e.RetryAfter
	return be
}
