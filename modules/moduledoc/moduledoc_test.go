package moduledoc

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

// TestModules: every module under modules/ parses, declares every
// variable it references, documents every input and output, and its
// README is what moduledoc renders now (go generate ./modules/...).
func TestModules(t *testing.T) {
	dirs, err := Dirs("..")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"aws-cluster": false, "gcp-cluster": false, "azure-cluster": false}
	for _, d := range dirs {
		t.Run(filepath.Base(d), func(t *testing.T) {
			want[filepath.Base(d)] = true
			m, err := Load(d)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range m.Check() {
				t.Error(p)
			}
			if len(m.Variables) == 0 || len(m.Outputs) == 0 {
				t.Errorf("%d variables, %d outputs", len(m.Variables), len(m.Outputs))
			}
			readme, err := os.ReadFile(filepath.Join(d, "README.md"))
			if err != nil {
				t.Fatal(err)
			}
			if string(readme) != m.README() {
				t.Errorf("README.md is stale: run go generate ./modules/...")
			}
			// The user data comes from the shared renderer, never inline.
			main, _ := os.ReadFile(filepath.Join(d, "main.tf"))
			if !strings.Contains(string(main), `data "aerolith_cloud_init" "node"`) {
				t.Error("main.tf does not render user data with aerolith_cloud_init")
			}
		})
	}
	for name, seen := range want {
		if !seen {
			t.Errorf("module %s missing", name)
		}
	}
}

// TestCheckFindsProblems: Check is not vacuous.
func TestCheckFindsProblems(t *testing.T) {
	dir := t.TempDir()
	src := `
variable "a" {
  type = string
}
variable "b" {
  description = "b"
  type        = string
}
output "x" {
  value = "${var.a}-${var.c}"
}
`
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(m.Check(), "\n")
	for _, want := range []string{`variable "a" has no description`, `var.c is used at`, `output "x" has no description`} {
		if !strings.Contains(got, want) {
			t.Errorf("Check() = %q, want %q", got, want)
		}
	}
}

// TestLoadRefusesBadHCL: a syntax error is reported with its place.
func TestLoadRefusesBadHCL(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte("variable \"a\" {\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "main.tf") {
		t.Fatalf("Load = %v, want a parse error naming main.tf", err)
	}
}

// TestModulesAreFormatted: every .tf file is as `terraform fmt` leaves it
// (hclwrite.Format is terraform fmt's formatter; make test also runs
// the real terraform fmt -check).
func TestModulesAreFormatted(t *testing.T) {
	files, err := filepath.Glob("../*/*.tf")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 9 {
		t.Fatalf("%d .tf files under modules/", len(files))
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if got := hclwrite.Format(src); string(got) != string(src) {
			t.Errorf("%s is not formatted: run terraform fmt modules/", f)
		}
	}
}

// TestExamplesCallModulesRight: each examples/terraform-modules program
// passes every required input of the module it calls and nothing the
// module does not declare.
func TestExamplesCallModulesRight(t *testing.T) {
	mains, err := filepath.Glob("../../examples/terraform-modules/*/main.tf")
	if err != nil {
		t.Fatal(err)
	}
	if len(mains) != 3 {
		t.Fatalf("%d examples under examples/terraform-modules", len(mains))
	}
	for _, f := range mains {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if got := hclwrite.Format(src); string(got) != string(src) {
			t.Errorf("%s is not formatted: run terraform fmt", f)
		}
		file, diags := hclsyntax.ParseConfig(src, f, hcl.InitialPos)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		calls := 0
		for _, b := range file.Body.(*hclsyntax.Body).Blocks {
			if b.Type != "module" {
				continue
			}
			calls++
			source, _ := b.Body.Attributes["source"].Expr.Value(nil)
			m, err := Load(filepath.Join(filepath.Dir(f), source.AsString()))
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			declared := map[string]bool{}
			for _, v := range m.Variables {
				declared[v.Name] = true
				if _, ok := b.Body.Attributes[v.Name]; v.Default == "" && !ok {
					t.Errorf("%s: module %s: required input %s not set", f, b.Labels[0], v.Name)
				}
			}
			for name := range b.Body.Attributes {
				if name != "source" && !declared[name] {
					t.Errorf("%s: module %s has no input %s", f, b.Labels[0], name)
				}
			}
		}
		if calls == 0 {
			t.Errorf("%s calls no module", f)
		}
	}
}
