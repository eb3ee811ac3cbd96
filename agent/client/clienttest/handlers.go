package clienttest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/aerolithdb/aerolith/agent/client"
)

func (s *Server) coll(name string, create bool) *collection {
	c := s.colls[name]
	if c == nil && create {
		c = &collection{docs: map[string]*client.Document{}}
		s.colls[name] = c
	}
	return c
}

func writeDoc(w http.ResponseWriter, status int, d *client.Document) {
	w.Header().Set("ETag", strconv.Quote(strconv.FormatUint(d.Version, 10)))
	writeJSON(w, status, d)
}

func (s *Server) create(w http.ResponseWriter, r *http.Request, body []byte) error {
	var req struct {
		ID   string          `json:"id"`
		Data json.RawMessage `json:"data"`
	}
	if err := decodeStrict(body, &req); err != nil {
		return err
	}
	if err := checkObject(req.Data); err != nil {
		return err
	}
	if req.ID == "." || req.ID == ".." {
		return errf(http.StatusBadRequest, client.CodeInvalidArgument, "id: document id %q cannot be used", req.ID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.coll(r.PathValue("c"), true)
	if req.ID == "" {
		s.seq++
		req.ID = fmt.Sprintf("gen%08d", s.seq)
	}
	if c.docs[req.ID] != nil {
		return errf(http.StatusConflict, client.CodeConflict, "document %q exists", req.ID)
	}
	now := s.now()
	d := &client.Document{ID: req.ID, Data: compact(req.Data), Version: 1, CreatedAt: now, UpdatedAt: now}
	c.docs[req.ID] = d
	writeDoc(w, http.StatusCreated, d)
	return nil
}

func (s *Server) get(w http.ResponseWriter, r *http.Request, _ []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.coll(r.PathValue("c"), false)
	id := r.PathValue("id")
	if c == nil || c.docs[id] == nil {
		return errf(http.StatusNotFound, client.CodeNotFound, "document %q not found", id)
	}
	writeDoc(w, http.StatusOK, c.docs[id])
	return nil
}

func (s *Server) put(w http.ResponseWriter, r *http.Request, body []byte) error {
	var req struct {
		Data json.RawMessage `json:"data"`
	}
	if err := decodeStrict(body, &req); err != nil {
		return err
	}
	if err := checkObject(req.Data); err != nil {
		return err
	}
	want, conditional, err := ifMatch(r)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.coll(r.PathValue("c"), true)
	d, status, err := s.apply(c, r.PathValue("id"), req.Data, want, conditional)
	if err != nil {
		return err
	}
	writeDoc(w, status, d)
	return nil
}

// apply upserts one document; s.mu must be held.
func (s *Server) apply(c *collection, id string, data json.RawMessage, want uint64, conditional bool) (*client.Document, int, error) {
	old := c.docs[id]
	if conditional && (old == nil || old.Version != want) {
		return nil, 0, errf(http.StatusPreconditionFailed, client.CodePreconditionFailed, "document %q is not at version %d", id, want)
	}
	now := s.now()
	if old == nil {
		d := &client.Document{ID: id, Data: compact(data), Version: 1, CreatedAt: now, UpdatedAt: now}
		c.docs[id] = d
		return d, http.StatusCreated, nil
	}
	d := &client.Document{ID: id, Data: compact(data), Version: old.Version + 1, CreatedAt: old.CreatedAt, UpdatedAt: now}
	c.docs[id] = d
	return d, http.StatusOK, nil
}

func (s *Server) delete(w http.ResponseWriter, r *http.Request, _ []byte) error {
	want, conditional, err := ifMatch(r)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.coll(r.PathValue("c"), false)
	id := r.PathValue("id")
	if c == nil || c.docs[id] == nil {
		return errf(http.StatusNotFound, client.CodeNotFound, "document %q not found", id)
	}
	if conditional && c.docs[id].Version != want {
		return errf(http.StatusPreconditionFailed, client.CodePreconditionFailed, "document %q is not at version %d", id, want)
	}
	delete(c.docs, id)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// sortedDocs returns the documents of c in id order; s.mu must be held.
func sortedDocs(c *collection) []*client.Document {
	if c == nil {
		return nil
	}
	out := make([]*client.Document, 0, len(c.docs))
	for _, d := range c.docs {
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b *client.Document) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out
}

func writePage(w http.ResponseWriter, docs []*client.Document, limit, offset int, explain any) {
	total := len(docs)
	start := min(offset, total)
	end := min(start+limit, total)
	page := make([]*client.Document, 0, end-start)
	page = append(page, docs[start:end]...)
	out := map[string]any{"documents": page, "total": total, "limit": limit, "offset": offset}
	if explain != nil {
		out["explain"] = explain
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, _ []byte) error {
	limit, offset, err := pageParams(r)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	writePage(w, sortedDocs(s.coll(r.PathValue("c"), false)), limit, offset, nil)
	return nil
}

func (s *Server) query(w http.ResponseWriter, r *http.Request, body []byte) error {
	var req struct {
		Filter  json.RawMessage `json:"filter"`
		Sort    json.RawMessage `json:"sort"`
		Limit   int             `json:"limit"`
		Offset  int             `json:"offset"`
		Explain bool            `json:"explain"`
	}
	if len(body) > 0 {
		if err := decodeStrict(body, &req); err != nil {
			return err
		}
	}
	if req.Limit < 0 || req.Offset < 0 {
		return errf(http.StatusBadRequest, client.CodeInvalidArgument, "limit and offset must not be negative")
	}
	if req.Limit == 0 {
		req.Limit = DefaultLimit
	}
	f, err := parseFilter(req.Filter)
	if err != nil {
		return errf(http.StatusBadRequest, client.CodeInvalidArgument, "filter: %v", err)
	}
	keys, err := parseSort(req.Sort)
	if err != nil {
		return errf(http.StatusBadRequest, client.CodeInvalidArgument, "sort: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.coll(r.PathValue("c"), false)
	var match []*client.Document
	for _, d := range sortedDocs(c) {
		ok, err := f.match(d.Data)
		if err != nil {
			return errf(http.StatusInternalServerError, client.CodeInternal, "stored document %q: %v", d.ID, err)
		}
		if ok {
			match = append(match, d)
		}
	}
	sortDocs(match, keys)
	var explain any
	if req.Explain {
		plan := "collection_scan"
		if c != nil && len(c.indexes) > 0 {
			plan = "collection_scan (indexes: " + fmt.Sprint(c.indexes) + ")"
		}
		explain = map[string]any{"plan": plan, "scanned": len(sortedDocs(c))}
	}
	writePage(w, match, req.Limit, req.Offset, explain)
	return nil
}

func (s *Server) collections(w http.ResponseWriter, r *http.Request, _ []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []client.CollectionInfo{}
	for name, c := range s.colls {
		var size int64
		for _, d := range c.docs {
			size += int64(len(d.Data))
		}
		out = append(out, client.CollectionInfo{Name: name, Documents: int64(len(c.docs)), Bytes: size, Indexes: slices.Clone(c.indexes)})
	}
	slices.SortFunc(out, func(a, b client.CollectionInfo) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	writeJSON(w, http.StatusOK, map[string]any{"collections": out})
	return nil
}

func (s *Server) dropCollection(w http.ResponseWriter, r *http.Request, _ []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := r.PathValue("c")
	if s.colls[name] == nil {
		return errf(http.StatusNotFound, client.CodeNotFound, "collection %q not found", name)
	}
	delete(s.colls, name)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) createIndex(w http.ResponseWriter, r *http.Request, body []byte) error {
	var req struct {
		Field string `json:"field"`
	}
	if err := decodeStrict(body, &req); err != nil {
		return err
	}
	if req.Field == "" {
		return errf(http.StatusBadRequest, client.CodeInvalidArgument, "field: required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.coll(r.PathValue("c"), true)
	if slices.Contains(c.indexes, req.Field) {
		return errf(http.StatusConflict, client.CodeConflict, "index on %q exists", req.Field)
	}
	c.indexes = append(c.indexes, req.Field)
	slices.Sort(c.indexes)
	writeJSON(w, http.StatusCreated, map[string]string{"field": req.Field})
	return nil
}

func (s *Server) listIndexes(w http.ResponseWriter, r *http.Request, _ []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []string{}
	if c := s.coll(r.PathValue("c"), false); c != nil {
		out = append(out, c.indexes...)
	}
	writeJSON(w, http.StatusOK, map[string]any{"indexes": out})
	return nil
}

func (s *Server) dropIndex(w http.ResponseWriter, r *http.Request, _ []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.coll(r.PathValue("c"), false)
	field := r.PathValue("field")
	if c == nil || !slices.Contains(c.indexes, field) {
		return errf(http.StatusNotFound, client.CodeNotFound, "index on %q not found", field)
	}
	c.indexes = slices.DeleteFunc(c.indexes, func(f string) bool { return f == field })
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) batch(w http.ResponseWriter, r *http.Request, body []byte) error {
	var req struct {
		Operations []struct {
			Op         string          `json:"op"`
			Collection string          `json:"collection"`
			ID         string          `json:"id"`
			Data       json.RawMessage `json:"data"`
			IfVersion  uint64          `json:"if_version"`
		} `json:"operations"`
	}
	if err := decodeStrict(body, &req); err != nil {
		return err
	}
	if len(req.Operations) == 0 {
		return errf(http.StatusBadRequest, client.CodeInvalidArgument, "operations: at least one is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Validate every operation against the current state before changing
	// anything, so a failing batch leaves no trace.
	for i, op := range req.Operations {
		if op.Collection == "" || (op.ID == "" && op.Op != client.OpPut) {
			return errf(http.StatusBadRequest, client.CodeInvalidArgument, "operations[%d]: collection and id are required", i)
		}
		c := s.coll(op.Collection, false)
		var cur *client.Document
		if c != nil {
			cur = c.docs[op.ID]
		}
		switch op.Op {
		case client.OpPut:
			if err := checkObject(op.Data); err != nil {
				return errf(http.StatusBadRequest, client.CodeInvalidArgument, "operations[%d]: %v", i, err)
			}
		case client.OpDelete:
			if cur == nil {
				return errf(http.StatusNotFound, client.CodeNotFound, "operations[%d]: document %q not found", i, op.ID)
			}
		default:
			return errf(http.StatusBadRequest, client.CodeInvalidArgument, "operations[%d]: op %q: want put or delete", i, op.Op)
		}
		if op.IfVersion != 0 && (cur == nil || cur.Version != op.IfVersion) {
			return errf(http.StatusPreconditionFailed, client.CodePreconditionFailed, "operations[%d]: document %q is not at version %d", i, op.ID, op.IfVersion)
		}
	}
	results := make([]client.BatchOpResult, 0, len(req.Operations))
	for _, op := range req.Operations {
		c := s.coll(op.Collection, true)
		if op.ID == "" {
			s.seq++
			op.ID = fmt.Sprintf("gen%08d", s.seq)
		}
		res := client.BatchOpResult{Op: op.Op, Collection: op.Collection, ID: op.ID}
		if op.Op == client.OpPut {
			d, _, _ := s.apply(c, op.ID, op.Data, 0, false)
			res.Version = d.Version
			doc := *d
			res.Document = &doc
		} else {
			delete(c.docs, op.ID)
		}
		results = append(results, res)
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": results})
	return nil
}

func (s *Server) stats(w http.ResponseWriter, r *http.Request, _ []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	docs := 0
	for _, c := range s.colls {
		docs += len(c.docs)
	}
	writeJSON(w, http.StatusOK, map[string]any{"node_id": s.cluster.NodeID, "documents": docs, "collections": len(s.colls)})
	return nil
}

func (s *Server) clusterStatus(w http.ResponseWriter, r *http.Request, _ []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	writeJSON(w, http.StatusOK, s.cluster)
	return nil
}

func (s *Server) join(w http.ResponseWriter, r *http.Request, body []byte) error {
	var req struct {
		NodeID   string `json:"node_id"`
		RaftAddr string `json:"raft_addr"`
		HTTPAddr string `json:"http_addr"`
	}
	if err := decodeStrict(body, &req); err != nil {
		return err
	}
	if req.NodeID == "" || req.RaftAddr == "" {
		return errf(http.StatusBadRequest, client.CodeInvalidArgument, "node_id and raft_addr are required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.cluster.Members {
		if m.ID == req.NodeID {
			return errf(http.StatusConflict, client.CodeConflict, "node %q is already a member", req.NodeID)
		}
	}
	s.cluster.Members = append(s.cluster.Members, client.Member{ID: req.NodeID, RaftAddr: req.RaftAddr, HTTPAddr: req.HTTPAddr, Voter: true})
	writeJSON(w, http.StatusOK, s.cluster)
	return nil
}

func (s *Server) remove(w http.ResponseWriter, r *http.Request, _ []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Like the agent (and raft), removing a node that is not a member is a
	// successful no-op, so retries are safe.
	id := r.PathValue("id")
	s.cluster.Members = slices.DeleteFunc(s.cluster.Members, func(m client.Member) bool { return m.ID == id })
	w.WriteHeader(http.StatusNoContent)
	return nil
}
