package httpapi

import (
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/agent/document"
)

// TestCreateCollection checks PUT /api/v1/collections/{c}: 201 when it
// creates the (empty) collection, 200 when it exists, tenant-scoped, 400
// for a bad name and 429-class quota_exceeded past max_collections.
func TestCreateCollection(t *testing.T) {
	limits := func(_ *bolt.Tx, tenant string) (document.Limits, bool, error) {
		return document.Limits{MaxCollections: 2, Refuse: true}, true, nil
	}
	e := newManagedEnvDocs(t, document.Config{MaxDocumentBytes: maxDoc, Limits: limits})
	e.must(201, "PUT", "/api/v1/collections/empty", alphaRW, "")
	e.must(200, "PUT", "/api/v1/collections/empty", alphaAdmin, "")
	r := e.must(200, "GET", "/api/v1/collections", alphaRead, "")
	if !strings.Contains(string(r.Body), `{"name":"empty","documents":0,"bytes":0,"indexes":[]}`) {
		t.Fatalf("alpha's collections = %s, want the empty collection", r.Body)
	}
	r = e.must(200, "GET", "/api/v1/collections", betaRW, "")
	if strings.Contains(string(r.Body), "empty") {
		t.Fatalf("beta sees alpha's collection: %s", r.Body)
	}
	e.must(201, "PUT", "/api/v1/collections/empty", betaRW, "")
	r = e.do("PUT", "/api/v1/collections/bad%20name", alphaRW, "")
	if code, msg := r.ErrCode(t); r.Status != 400 || code != "invalid_argument" || !strings.Contains(msg, "collection") {
		t.Fatalf("bad name = %d %s %q, want 400 invalid_argument naming the collection", r.Status, code, msg)
	}
	e.must(201, "PUT", "/api/v1/collections/second", alphaRW, "")
	r = e.do("PUT", "/api/v1/collections/third", alphaRW, "")
	if code, _ := r.ErrCode(t); code != document.CodeQuotaExceeded {
		t.Fatalf("third collection past max_collections 2 = %d %s, want quota_exceeded", r.Status, r.Body)
	}
	e.must(204, "DELETE", "/api/v1/collections/empty", alphaAdmin, "")
	e.must(201, "PUT", "/api/v1/collections/empty", alphaRW, "")
}
