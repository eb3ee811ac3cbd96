package managed

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestCrossTenant lets tenant alpha attack tenant bravo on a shared
// cluster, with a readwrite and an admin key of its own, through every
// node in turn. No path reaches bravo's data: reads, lists, queries,
// deletes, index changes and batches naming bravo's collections and ids
// answer exactly what they answer for names that exist nowhere (same
// status, code and message up to the names alpha sent), writes under
// those names create alpha's own documents, tricks in names (bravo's
// tenant id as a prefix, separators, path segments, reserved and
// look-alike names) are refused or stay in alpha's namespace, and neither
// stats, metrics, key routes nor any error message shows bravo's tenant
// id, data, names or keys. Bravo's data is checked intact at the end.
func TestCrossTenant(t *testing.T) {
	e := newEnv(t, envConfig{
		tiers:   []string{tierYAML("roomy", "block", nil)},
		tenants: []tenantSpec{{"alpha", "roomy"}, {"bravo", "roomy"}},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	aKey := e.createKey(0, "alpha", "readwrite", "attacker")
	aAdmKey := e.createKey(1, "alpha", "admin", "attacker-admin")
	bKey := e.createKey(2, "bravo", "readwrite", "victim")
	bAdmKey := e.createKey(0, "bravo", "admin", "victim-admin")
	a, aAdm := e.client("alpha", aKey.Key, nil), e.client("alpha", aAdmKey.Key, nil)
	b := e.client("bravo", bKey.Key, nil)
	e.waitServing(a, b)
	bravo := e.id("bravo")
	const secret = "BRAVO-SECRET-42"

	// Bravo's data: a vault with an index, and a collection whose name
	// alpha uses too.
	mustB := func(what string, got answer, status int) {
		t.Helper()
		if got.Status != status {
			t.Fatalf("bravo %s: %s, want %d", what, got, status)
		}
	}
	mustB("put v1", b.call(ctx, kindWrite, 1, http.MethodPut, docURL(e.c.URL(0), "vault", "v1"), data(map[string]any{"owner": "bravo", "secret": secret, "n": 1})), http.StatusCreated)
	mustB("put v2", b.call(ctx, kindWrite, 1, http.MethodPut, docURL(e.c.URL(1), "vault", "v2"), data(map[string]any{"owner": "bravo", "secret": secret, "n": 2})), http.StatusCreated)
	// Indexes are the tenant admin's (a readwrite key is refused).
	mustB("index", e.client("bravo", bAdmKey.Key, nil).call(ctx, kindWrite, 1, http.MethodPost, collURL(e.c.URL(2), "vault")+"/indexes", mustJSON(map[string]string{"field": "secret"})), http.StatusCreated)
	mustB("put bravo-only", b.call(ctx, kindWrite, 1, http.MethodPut, docURL(e.c.URL(0), "bravo-only", "x"), data(map[string]any{"secret": secret})), http.StatusCreated)
	mustB("put shared", b.call(ctx, kindWrite, 1, http.MethodPut, docURL(e.c.URL(1), "shared", "s1"), data(map[string]any{"secret": secret})), http.StatusCreated)
	if got := a.call(ctx, kindWrite, 1, http.MethodPut, docURL(e.c.URL(2), "shared", "s1"), data(map[string]any{"mine": true})); got.Status != http.StatusCreated {
		t.Fatalf("alpha put shared/s1: %s, want 201 (its own collection of that name)", got)
	}

	// Everything alpha is told goes through leak, which fails the test
	// when an answer shows anything of bravo's that alpha did not send
	// itself (an error may quote the name alpha asked for).
	forbidden := []string{bravo, secret, "bravo-only", bKey.ID, bAdmKey.ID, bKey.Key}
	leak := func(what, sent string, got answer) answer {
		t.Helper()
		if got.Err != nil {
			t.Errorf("%s: %v", what, got.Err)
			return got
		}
		shows := func(where, text string) {
			for _, f := range forbidden {
				if strings.Contains(text, f) && !strings.Contains(sent, f) {
					t.Errorf("%s: %s shows %q of tenant bravo: %s", what, where, f, clip(text, 400))
				}
			}
		}
		shows("the answer", string(got.Body))
		for k, vs := range got.Header {
			for _, v := range vs {
				shows("header "+k, v)
			}
		}
		return got
	}
	node := 0
	next := func() string { node = (node + 1) % e.c.N(); return e.c.URL(node) }
	// do sends one request of alpha's and checks the answer with leak.
	do := func(tc *tenantClient, method, path string, body []byte) answer {
		return leak(method+" "+path, path+" "+string(body), tc.call(ctx, kindMeta, 1, method, next()+path, body))
	}
	doH := func(tc *tenantClient, method, path string, body []byte, h http.Header) answer {
		return leak(method+" "+path, path+" "+string(body)+fmt.Sprint(h), tc.c.do(ctx, method, next()+path, tc.key, body, h))
	}

	t.Run("bravo's names answer like names that exist nowhere", func(t *testing.T) {
		// {C} and {ID} are bravo's collection and id, or a ghost's.
		probes := []struct {
			name, method, path, body string
			status                   int
		}{
			{"get document", "GET", "/api/v1/collections/{C}/documents/{ID}", "", 404},
			{"list documents", "GET", "/api/v1/collections/{C}/documents", "", 200},                                     // an empty page
			{"query by secret", "POST", "/api/v1/collections/{C}/query", `{"filter":{"secret":"` + secret + `"}}`, 200}, // no match
			{"list indexes", "GET", "/api/v1/collections/{C}/indexes", "", 404},
			{"delete document", "DELETE", "/api/v1/collections/{C}/documents/{ID}", "", 404},
			{"drop index", "DELETE", "/api/v1/collections/{C}/indexes/secret", "", 404},
			{"drop collection", "DELETE", "/api/v1/collections/{C}", "", 404},
			{"batch delete", "POST", "/api/v1/batch", `{"operations":[{"op":"delete","collection":"{C}","id":"{ID}"}]}`, 404},
		}
		for _, p := range probes {
			run := func(c, id string) answer {
				r := strings.NewReplacer("{C}", c, "{ID}", id)
				var body []byte
				if p.body != "" {
					body = []byte(r.Replace(p.body))
				}
				tc := a
				if strings.HasPrefix(p.name, "drop") {
					tc = aAdm // collections and indexes are the tenant admin's
				}
				return do(tc, p.method, r.Replace(p.path), body)
			}
			got, ghost := run("vault", "v1"), run("ghost", "g1")
			if got.Status != p.status {
				t.Errorf("%s of bravo's vault/v1: %s, want %d", p.name, got, p.status)
			}
			norm := strings.NewReplacer("vault", "<C>", "v1", "<ID>").Replace(got.Message)
			normGhost := strings.NewReplacer("ghost", "<C>", "g1", "<ID>").Replace(ghost.Message)
			if got.Status != ghost.Status || got.Code != ghost.Code || norm != normGhost {
				t.Errorf("%s: bravo's vault/v1 answers %s but a name that exists nowhere answers %s: the difference tells alpha bravo's data exists", p.name, got, ghost)
			}
		}
		got := doH(a, http.MethodPut, "/api/v1/collections/vault/documents/v1", data(map[string]int{"x": 1}), http.Header{"If-Match": {"1"}})
		ghost := doH(a, http.MethodPut, "/api/v1/collections/ghost/documents/g1", data(map[string]int{"x": 1}), http.Header{"If-Match": {"1"}})
		if got.Status != ghost.Status || got.Code != ghost.Code || got.Status/100 == 2 {
			t.Errorf("conditional put on bravo's vault/v1 version 1: %s; on a name that exists nowhere: %s; want the same refusal", got, ghost)
		}
	})

	t.Run("same names are alpha's own", func(t *testing.T) {
		got := do(a, "GET", "/api/v1/collections/shared/documents/s1", nil)
		if got.Status != http.StatusOK || !strings.Contains(string(got.Body), `"mine":true`) {
			t.Errorf("alpha's shared/s1: %s, want alpha's own document", got)
		}
		if got := do(a, "PUT", "/api/v1/collections/vault/documents/v1", data(map[string]any{"mine": 1})); got.Status != http.StatusCreated {
			t.Errorf("alpha put vault/v1: %s, want 201 (a new document of alpha's)", got)
		}
		if got := do(aAdm, "POST", "/api/v1/collections/vault/indexes", []byte(`{"field":"secret"}`)); got.Status != http.StatusCreated {
			t.Errorf("alpha index on its own vault: %s, want 201 (bravo's index is not alpha's)", got)
		}
		batch := `{"operations":[{"op":"put","collection":"vault","id":"v2","data":{"mine":2}},{"op":"delete","collection":"vault","id":"v1"},{"op":"put","collection":"bravo-only","id":"x","data":{"mine":3}}]}`
		if got := do(a, "POST", "/api/v1/batch", []byte(batch)); got.Status != http.StatusOK {
			t.Errorf("alpha batch on its own names: %s, want 200", got)
		}
		// alpha now has a collection named bravo-only of its own.
		forbidden = []string{bravo, secret, bKey.ID, bAdmKey.ID, bKey.Key}
		for _, f := range []string{`{"secret":"` + secret + `"}`, `{"_tenant":"` + bravo + `"}`, `{"tenant":"` + bravo + `"}`,
			`{"$or":[{"_id":"v1"},{"id":"v1"},{"owner":"bravo"}]}`, `{"secret":{"$exists":true}}`} {
			got := do(a, "POST", "/api/v1/collections/vault/query", []byte(`{"filter":`+f+`}`))
			var page struct {
				Total int `json:"total"`
			}
			if got.Status != http.StatusOK || got.decode(&page) != nil || page.Total != 0 {
				t.Errorf("alpha query %s on its own vault: %s, want 200 with no match", f, got)
			}
		}
		for _, q := range []string{"?tenant=" + bravo, "?tenant_id=" + bravo} {
			got := do(a, "GET", "/api/v1/collections/shared/documents"+q, nil)
			if got.Status != http.StatusOK && got.Status != http.StatusBadRequest {
				t.Errorf("list with %s: %s", q, got)
			}
		}
		for _, h := range []string{"X-Tenant", "X-Aerolith-Tenant", "Aerolith-Tenant"} {
			got := doH(a, http.MethodGet, "/api/v1/collections/bravo-only/documents/x", nil, http.Header{h: {bravo}})
			if got.Status != http.StatusOK || !strings.Contains(string(got.Body), `"mine":3`) {
				t.Errorf("get bravo-only/x with %s: %s, want alpha's own document", h, got)
			}
		}
	})

	t.Run("collections, stats, cluster, metrics", func(t *testing.T) {
		var cols struct {
			Collections []struct {
				Name string `json:"name"`
			} `json:"collections"`
		}
		got := do(a, "GET", "/api/v1/collections", nil)
		if got.Status != http.StatusOK || got.decode(&cols) != nil {
			t.Fatalf("list collections: %s", got)
		}
		var names []string
		for _, c := range cols.Collections {
			names = append(names, c.Name)
		}
		if want := "bravo-only shared vault"; strings.Join(names, " ") != want {
			t.Errorf("alpha's collections = %v, want its own: %s", names, want)
		}
		var st statsOut
		got = do(a, "GET", "/api/v1/stats", nil)
		if got.Status != http.StatusOK || got.decode(&st) != nil || st.Data.Tenant != e.id("alpha") {
			t.Errorf("alpha's stats: %s, want its own tenant's figures", got)
		}
		if strings.Contains(string(got.Body), secret) || strings.Contains(string(got.Body), `"store"`) {
			t.Errorf("alpha's stats show bravo's data or cluster-wide store figures: %s", clip(string(got.Body), 400))
		}
		do(a, "GET", "/api/v1/cluster", nil)
		if got := do(aAdm, "GET", "/metrics", nil); got.Status != http.StatusForbidden {
			t.Errorf("/metrics with alpha's admin key: %s, want 403 (cluster admin only)", got)
		}
		for i := range e.c.N() {
			m := metrics(ctx, t, e, i)
			for _, id := range []string{bravo, e.id("alpha")} {
				if strings.Contains(m, id) {
					t.Errorf("%s /metrics names a tenant (%s)", e.c.NodeID(i), id)
				}
			}
		}
	})

	t.Run("names with tricks", func(t *testing.T) {
		for _, c := range []struct {
			coll   string
			status int
		}{
			{bravo, 404}, {bravo + ".vault", 404}, {bravo + "_vault", 404}, {bravo + "-vault", 404}, {"VAULT", 404},
			{"_tenancy", 404}, {"_store", 400}, {"_aerolith", 400},
			{bravo + "/vault", 400}, {"../" + bravo + "/vault", 400}, {"vault\x00", 400}, {" vault", 400}, {"v\u0430ult", 400},
			{".vault", 400},
			// Dot segments are refused, never redirected to the cleaned
			// path (issue 10: a DELETE followed there dropped a collection).
			{"..", 400}, {".", 400},
		} {
			got := do(a, "GET", "/api/v1/collections/"+url.PathEscape(c.coll)+"/documents/v1", nil)
			if got.Status != c.status {
				t.Errorf("get %q/v1: %s, want %d", c.coll, got, c.status)
			}
			if c.status == 404 {
				w := do(a, "PUT", "/api/v1/collections/"+url.PathEscape(c.coll)+"/documents/t", data(map[string]int{"trick": 1}))
				if w.Status != http.StatusCreated {
					t.Errorf("put %q/t: %s, want 201 in alpha's own namespace", c.coll, w)
				}
			}
		}
		for _, id := range []string{"../v1", "..%2Fv1", "v1/..", bravo + "/v1", "v1\x00"} {
			got := do(a, "GET", "/api/v1/collections/vault/documents/"+url.PathEscape(id), nil)
			if got.Status != http.StatusBadRequest && got.Status != http.StatusNotFound {
				t.Errorf("get vault/%q: %s, want 400 or 404", id, got)
			}
		}
		// A forged key: bravo's key id with alpha's secret.
		forged := "ak_" + bKey.ID + "_" + aKey.Key[len("ak_")+len(aKey.ID)+1:]
		got := leak("forged key", "", a.c.do(ctx, http.MethodGet, docURL(next(), "vault", "v1"), forged, nil, nil))
		if got.Status != http.StatusUnauthorized {
			t.Errorf("bravo's key id with alpha's secret: %s, want 401", got)
		}
	})

	t.Run("keys", func(t *testing.T) {
		body := mustJSON(map[string]string{"tenant": bravo, "role": "admin", "name": "stolen"})
		if got := do(aAdm, "POST", "/api/v1/keys", body); got.Status != http.StatusForbidden {
			t.Errorf("alpha's admin key creating a key for bravo: %s, want 403", got)
		}
		if got := do(aAdm, "GET", "/api/v1/keys?tenant="+url.QueryEscape(bravo), nil); got.Status != http.StatusForbidden {
			t.Errorf("alpha's admin key listing bravo's keys: %s, want 403", got)
		}
		got := do(aAdm, "DELETE", "/api/v1/keys/"+bKey.ID, nil)
		ghost := do(aAdm, "DELETE", "/api/v1/keys/0123456789abcdef", nil)
		if got.Status != http.StatusNotFound || ghost.Status != got.Status || ghost.Code != got.Code ||
			strings.ReplaceAll(got.Message, bKey.ID, "<ID>") != strings.ReplaceAll(ghost.Message, "0123456789abcdef", "<ID>") {
			t.Errorf("alpha's admin key revoking bravo's key: %s; an unknown key: %s; want the same 404", got, ghost)
		}
		if got := do(a, "POST", "/api/v1/keys", mustJSON(map[string]string{"tenant": e.id("alpha"), "role": "admin"})); got.Status != http.StatusForbidden {
			t.Errorf("alpha's readwrite key creating an admin key: %s, want 403", got)
		}
	})

	// Bravo's data is intact, on every node.
	for i := range e.c.N() {
		for _, id := range []string{"v1", "v2"} {
			got := b.call(ctx, kindRead, 1, http.MethodGet, docURL(e.c.URL(i), "vault", id), nil)
			var d struct {
				Version uint64         `json:"version"`
				Data    map[string]any `json:"data"`
			}
			if got.Status != http.StatusOK || got.decode(&d) != nil || d.Version != 1 || d.Data["secret"] != secret || d.Data["owner"] != "bravo" {
				t.Errorf("%s: bravo's vault/%s: %s, want version 1 with its secret", e.c.NodeID(i), id, got)
			}
		}
		got := b.call(ctx, kindRead, 1, http.MethodGet, collURL(e.c.URL(i), "vault")+"/indexes", nil)
		if got.Status != http.StatusOK || !strings.Contains(string(got.Body), "secret") {
			t.Errorf("%s: bravo's vault indexes: %s", e.c.NodeID(i), got)
		}
		for _, p := range []string{"/bravo-only/documents/x", "/shared/documents/s1"} {
			got := b.call(ctx, kindRead, 1, http.MethodGet, e.c.URL(i)+"/api/v1/collections"+p, nil)
			if got.Status != http.StatusOK || !strings.Contains(string(got.Body), secret) {
				t.Errorf("%s: bravo's %s: %s, want bravo's document", e.c.NodeID(i), p, got)
			}
		}
	}
	if got := b.call(ctx, kindRead, 1, http.MethodGet, e.c.URL(0)+"/api/v1/keys", nil); got.Status != http.StatusForbidden {
		// bravo's readwrite key may not list keys; its admin key below may.
		t.Errorf("bravo's readwrite key listing keys: %s, want 403", got)
	}
	bAdm := e.client("bravo", bAdmKey.Key, nil)
	if got := bAdm.call(ctx, kindMeta, 1, http.MethodGet, e.c.URL(1)+"/api/v1/keys", nil); got.Status != http.StatusOK || !strings.Contains(string(got.Body), bKey.ID) {
		t.Errorf("bravo's keys after alpha's attempts: %s, want its key %s listed", got, bKey.ID)
	} else if strings.Contains(string(got.Body), `"revoked":true`) {
		t.Errorf("a key of bravo was revoked by alpha's attempts: %s", got.Body)
	}
}
