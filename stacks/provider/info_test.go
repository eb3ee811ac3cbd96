package provider

import (
	"encoding/json"
	"sort"
	"testing"

	shim "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim"
)

// TestEveryTerraformTypeIsMapped: each resource and data source of the
// Terraform provider has a Pulumi token here, and nothing here names a
// type the provider no longer has.
func TestEveryTerraformTypeIsMapped(t *testing.T) {
	info := Info()
	check := func(kind string, tf []string, mapped map[string]bool) {
		t.Helper()
		for _, name := range tf {
			if !mapped[name] {
				t.Errorf("%s %s of the Terraform provider has no Pulumi token in Info", kind, name)
			}
			delete(mapped, name)
		}
		for name := range mapped {
			t.Errorf("Info maps %s %s, which the Terraform provider does not have", kind, name)
		}
	}
	var res, ds []string
	info.P.ResourcesMap().Range(func(k string, _ shim.Resource) bool { res = append(res, k); return true })
	info.P.DataSourcesMap().Range(func(k string, _ shim.Resource) bool { ds = append(ds, k); return true })
	sort.Strings(res)
	sort.Strings(ds)
	if len(res) == 0 || len(ds) == 0 {
		t.Fatalf("the shim lists %d resources and %d data sources", len(res), len(ds))
	}
	mr, md := map[string]bool{}, map[string]bool{}
	for k := range info.Resources {
		mr[k] = true
	}
	for k := range info.DataSources {
		md[k] = true
	}
	check("resource", res, mr)
	check("data source", ds, md)
}

// TestSchemaIsEmbedded: the plugin serves the generated schema, with the
// secrets marked as such.
func TestSchemaIsEmbedded(t *testing.T) {
	var s struct {
		Name      string `json:"name"`
		Resources map[string]struct {
			Properties map[string]struct {
				Secret bool `json:"secret"`
			} `json:"properties"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(Schema, &s); err != nil {
		t.Fatalf("schema.json: %v (run make generate-stacks)", err)
	}
	if s.Name != Name {
		t.Fatalf("schema of package %q, want %q", s.Name, Name)
	}
	for _, c := range []struct{ res, prop string }{
		{"aerolith:index/apiKey:ApiKey", "secret"},
		{"aerolith:index/cluster:Cluster", "adminKey"},
	} {
		r, ok := s.Resources[c.res]
		if !ok {
			t.Errorf("schema has no resource %s", c.res)
			continue
		}
		if !r.Properties[c.prop].Secret {
			t.Errorf("%s.%s is not a secret in the schema", c.res, c.prop)
		}
	}
}
