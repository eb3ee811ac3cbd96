package provider

import (
	"encoding/json"
	"sort"
	"strings"
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

// TestSchemaDescriptions: tfgen found the Terraform provider's docs
// (provider/docs), so every resource and function of the schema, every
// property (inputs, outputs, nested types, provider configuration) and in
// particular every required input carries a description into the SDKs.
// A type or attribute added without one fails here.
func TestSchemaDescriptions(t *testing.T) {
	type property struct {
		Description string `json:"description"`
	}
	type object struct {
		Description string              `json:"description"`
		Properties  map[string]property `json:"properties"`
		Required    []string            `json:"required"`
	}
	var s struct {
		Provider struct {
			InputProperties map[string]property `json:"inputProperties"`
		} `json:"provider"`
		Config struct {
			Variables map[string]property `json:"variables"`
		} `json:"config"`
		Resources map[string]struct {
			Description     string              `json:"description"`
			InputProperties map[string]property `json:"inputProperties"`
			RequiredInputs  []string            `json:"requiredInputs"`
			Properties      map[string]property `json:"properties"`
		} `json:"resources"`
		Functions map[string]struct {
			Description string  `json:"description"`
			Inputs      *object `json:"inputs"`
			Outputs     *object `json:"outputs"`
		} `json:"functions"`
		Types map[string]object `json:"types"`
	}
	if err := json.Unmarshal(Schema, &s); err != nil {
		t.Fatalf("schema.json: %v (run make generate-stacks)", err)
	}
	missing := func(what string, props map[string]property) {
		t.Helper()
		for name, p := range props {
			if strings.TrimSpace(p.Description) == "" {
				t.Errorf("%s %s has no description", what, name)
			}
		}
	}
	if len(s.Resources) != len(Info().Resources) || len(s.Types) == 0 {
		t.Fatalf("schema has %d resources (Info maps %d) and %d types", len(s.Resources), len(Info().Resources), len(s.Types))
	}
	missing("provider input", s.Provider.InputProperties)
	missing("config variable", s.Config.Variables)
	for tok, r := range s.Resources {
		if strings.TrimSpace(r.Description) == "" {
			t.Errorf("resource %s has no description (tfgen found no docs for it: is provider/docs up to date?)", tok)
		}
		if len(r.RequiredInputs) == 0 {
			t.Errorf("resource %s has no required input", tok)
		}
		for _, name := range r.RequiredInputs {
			if strings.TrimSpace(r.InputProperties[name].Description) == "" {
				t.Errorf("required input %s of %s has no description", name, tok)
			}
		}
		missing(tok+" input", r.InputProperties)
		missing(tok+" output", r.Properties)
	}
	functions := 0
	for tok, f := range s.Functions {
		if strings.HasPrefix(tok, "pulumi:providers:") {
			continue // the bridge's own terraformConfig
		}
		functions++
		if strings.TrimSpace(f.Description) == "" {
			t.Errorf("function %s has no description (tfgen found no docs for it: is provider/docs up to date?)", tok)
		}
		if f.Inputs != nil {
			for _, name := range f.Inputs.Required {
				if strings.TrimSpace(f.Inputs.Properties[name].Description) == "" {
					t.Errorf("required input %s of %s has no description", name, tok)
				}
			}
			missing(tok+" input", f.Inputs.Properties)
		}
		if f.Outputs != nil {
			missing(tok+" output", f.Outputs.Properties)
		}
	}
	if functions != len(Info().DataSources) {
		t.Errorf("schema has %d functions, Info maps %d data sources", functions, len(Info().DataSources))
	}
	for tok, ty := range s.Types {
		missing("type "+tok+" property", ty.Properties)
	}
}

// TestDropExamples: the HCL Example Usage section goes, the rest stays.
func TestDropExamples(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"Intro.\n\n## Example Usage\n\n```terraform\nresource \"x\" \"y\" {}\n```\n\n## Schema\n\n- `a` (String) A.\n", "Intro.\n\n## Schema\n\n- `a` (String) A.\n"},
		{"Intro.\n\n## Example Usage\n\n```terraform\n# a comment\n```\n", "Intro.\n\n"},
		{"Intro.\n\n## Schema\n", "Intro.\n\n## Schema\n"},
	} {
		got, err := dropExamples("x.md", []byte(c.in))
		if err != nil || string(got) != c.want {
			t.Errorf("dropExamples(%q) = %q, %v, want %q", c.in, got, err, c.want)
		}
	}
}
