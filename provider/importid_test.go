package provider

import (
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/types"
)

func TestParseCollectionID(t *testing.T) {
	for _, c := range []struct {
		id, cluster, tenant, name string
		bad                       bool
	}{
		{id: "shop/tn_1/orders", cluster: "shop", tenant: "tn_1", name: "orders"},
		{id: "shop/orders", cluster: "shop", name: "orders"},
		{id: "shop//orders", bad: true},
		{id: "shop", bad: true},
		{id: "/tn/orders", bad: true},
		{id: "shop/tn/", bad: true},
		{id: "a/b/c/d", bad: true},
		{id: "", bad: true},
	} {
		cl, tn, n, err := parseCollectionID(c.id)
		if c.bad {
			if err == nil || !strings.Contains(err.Error(), "want <cluster>/<tenant>/<name>") {
				t.Errorf("parseCollectionID(%q) = %q %q %q, %v; want an error naming the form", c.id, cl, tn, n, err)
			}
			continue
		}
		if err != nil || cl != c.cluster || tn != c.tenant || n != c.name {
			t.Errorf("parseCollectionID(%q) = %q %q %q, %v; want %q %q %q", c.id, cl, tn, n, err, c.cluster, c.tenant, c.name)
		}
	}
}

func TestParseIndexID(t *testing.T) {
	for _, c := range []struct {
		id                                 string
		cluster, tenant, collection, field string
		bad                                bool
	}{
		{id: "shop/tn_1/orders/customer", cluster: "shop", tenant: "tn_1", collection: "orders", field: "customer"},
		{id: "shop/orders/customer.id", cluster: "shop", collection: "orders", field: "customer.id"},
		{id: "shop/tn_1/orders/a/b", cluster: "shop", tenant: "tn_1", collection: "orders", field: "a/b"},
		{id: "shop/orders", bad: true},
		{id: "shop//orders/f", bad: true},
		{id: "/tn/orders/f", bad: true},
		{id: "shop/tn/orders/", bad: true},
		{id: "", bad: true},
	} {
		cl, tn, co, f, err := parseIndexID(c.id)
		if c.bad {
			if err == nil || !strings.Contains(err.Error(), "want <cluster>/<tenant>/<collection>/<field>") {
				t.Errorf("parseIndexID(%q) = %q %q %q %q, %v; want an error naming the form", c.id, cl, tn, co, f, err)
			}
			continue
		}
		if err != nil || cl != c.cluster || tn != c.tenant || co != c.collection || f != c.field {
			t.Errorf("parseIndexID(%q) = %q %q %q %q, %v; want %q %q %q %q", c.id, cl, tn, co, f, err, c.cluster, c.tenant, c.collection, c.field)
		}
	}
}

func TestParseKeyID(t *testing.T) {
	if cl, tn, k, err := parseKeyID("shop/tn_1/0503a275"); err != nil || cl != "shop" || tn != "tn_1" || k != "0503a275" {
		t.Fatalf("parseKeyID = %q %q %q, %v", cl, tn, k, err)
	}
	for _, id := range []string{"", "shop/tn", "shop//k", "a/b/c/d"} {
		if _, _, _, err := parseKeyID(id); err == nil {
			t.Errorf("parseKeyID(%q): no error", id)
		}
	}
}

// FuzzImportIDs: any import id either parses into non-empty parts that
// join back to it, or is refused with a message; never a panic.
func FuzzImportIDs(f *testing.F) {
	for _, s := range []string{"shop/tn_1/orders/customer", "shop/orders/f", "a/b/c", "//", "a/b/c/d/e", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if cl, tn, co, fd, err := parseIndexID(id); err == nil {
			parts := []string{cl, co, fd}
			if tn != "" {
				parts = []string{cl, tn, co, fd}
			}
			if strings.Join(parts, "/") != id || cl == "" || co == "" || fd == "" {
				t.Fatalf("parseIndexID(%q) = %q %q %q %q", id, cl, tn, co, fd)
			}
		}
		if cl, tn, n, err := parseCollectionID(id); err == nil {
			m := collectionModel{Cluster: types.StringValue(cl), Tenant: types.StringValue(tn), Name: types.StringValue(n)}
			if collectionID(&m) != id || cl == "" || n == "" {
				t.Fatalf("parseCollectionID(%q) = %q %q %q", id, cl, tn, n)
			}
		}
		if cl, tn, k, err := parseKeyID(id); err == nil && cl+"/"+tn+"/"+k != id {
			t.Fatalf("parseKeyID(%q) = %q %q %q", id, cl, tn, k)
		}
	})
}
