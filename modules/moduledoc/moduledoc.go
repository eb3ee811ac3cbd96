// Package moduledoc reads the Terraform modules under modules/ with
// hashicorp/hcl/v2 (the parser Terraform itself uses) and renders each
// module's README: its inputs and outputs from the variable and output
// blocks, so the README can never disagree with the module. Check also
// reports what Terraform would only notice at plan time: a var.X that is
// not declared, and an input or output without a description.
//
//go:generate go run ./gen ..
package moduledoc

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Variable is one input of a module.
type Variable struct {
	Name, Description, Type, Default string
	Sensitive                        bool
}

// Output is one output of a module.
type Output struct{ Name, Description string }

// Module is what a module's .tf files declare and reference.
type Module struct {
	Dir        string
	Variables  []Variable
	Outputs    []Output
	Providers  []string               // required_providers sources
	References map[string][]hcl.Range // var.NAME → where
	Header     string                 // the leading comment of main.tf
}

// Load parses every .tf file of dir.
func Load(dir string) (*Module, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no .tf files", dir)
	}
	sort.Strings(files)
	m := &Module{Dir: dir, References: map[string][]hcl.Range{}}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		file, diags := hclsyntax.ParseConfig(src, f, hcl.InitialPos)
		if diags.HasErrors() {
			return nil, fmt.Errorf("parse: %w", diags)
		}
		if filepath.Base(f) == "main.tf" {
			m.Header = leadingComment(string(src))
		}
		body := file.Body.(*hclsyntax.Body)
		for _, b := range body.Blocks {
			switch b.Type {
			case "variable":
				m.Variables = append(m.Variables, variable(src, b))
			case "output":
				m.Outputs = append(m.Outputs, Output{Name: b.Labels[0], Description: str(src, b.Body, "description")})
			case "terraform":
				for _, tb := range b.Body.Blocks {
					if tb.Type != "required_providers" {
						continue
					}
					for name, a := range tb.Body.Attributes {
						m.Providers = append(m.Providers, provider(name, a))
					}
				}
			}
		}
		hclsyntax.VisitAll(body, func(n hclsyntax.Node) hcl.Diagnostics {
			if e, ok := n.(*hclsyntax.ScopeTraversalExpr); ok && e.Traversal.RootName() == "var" && len(e.Traversal) > 1 {
				if a, ok := e.Traversal[1].(hcl.TraverseAttr); ok {
					m.References[a.Name] = append(m.References[a.Name], e.Range())
				}
			}
			return nil
		})
	}
	sort.Strings(m.Providers)
	return m, nil
}

// provider renders one required_providers entry: name, source, version.
func provider(name string, a *hclsyntax.Attribute) string {
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() || !v.Type().IsObjectType() {
		return name
	}
	s := "`" + name + "`"
	for _, k := range []string{"source", "version"} {
		if v.Type().HasAttribute(k) && v.GetAttr(k).Type().Equals(cty.String) {
			s += " " + k + " `" + v.GetAttr(k).AsString() + "`"
		}
	}
	return s
}

func variable(src []byte, b *hclsyntax.Block) Variable {
	v := Variable{Name: b.Labels[0], Description: str(src, b.Body, "description")}
	if a, ok := b.Body.Attributes["type"]; ok {
		v.Type = strings.TrimSpace(string(a.Expr.Range().SliceBytes(src)))
	}
	if a, ok := b.Body.Attributes["default"]; ok {
		v.Default = strings.TrimSpace(string(a.Expr.Range().SliceBytes(src)))
	}
	if a, ok := b.Body.Attributes["sensitive"]; ok {
		val, _ := a.Expr.Value(nil)
		v.Sensitive = val.True()
	}
	return v
}

func str(src []byte, body *hclsyntax.Body, name string) string {
	a, ok := body.Attributes[name]
	if !ok {
		return ""
	}
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() || !v.IsKnown() || v.IsNull() || !v.Type().Equals(cty.String) {
		return strings.TrimSpace(string(a.Expr.Range().SliceBytes(src)))
	}
	return v.AsString()
}

func leadingComment(src string) string {
	var lines []string
	for _, l := range strings.Split(src, "\n") {
		if !strings.HasPrefix(l, "#") {
			break
		}
		lines = append(lines, strings.TrimSpace(strings.TrimPrefix(l, "#")))
	}
	return strings.Join(lines, " ")
}

// Check lists what is wrong with m: references to undeclared variables,
// inputs and outputs without a description.
func (m *Module) Check() []string {
	var problems []string
	declared := map[string]bool{}
	for _, v := range m.Variables {
		declared[v.Name] = true
		if strings.TrimSpace(v.Description) == "" {
			problems = append(problems, fmt.Sprintf("variable %q has no description", v.Name))
		}
		if v.Type == "" {
			problems = append(problems, fmt.Sprintf("variable %q has no type", v.Name))
		}
	}
	var names []string
	for n := range m.References {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if !declared[n] {
			problems = append(problems, fmt.Sprintf("var.%s is used at %s but not declared", n, m.References[n][0]))
		}
	}
	for _, o := range m.Outputs {
		if strings.TrimSpace(o.Description) == "" {
			problems = append(problems, fmt.Sprintf("output %q has no description", o.Name))
		}
	}
	return problems
}

// README renders the module's README.md.
func (m *Module) README() string {
	var b strings.Builder
	name := filepath.Base(m.Dir)
	fmt.Fprintf(&b, "<!-- Generated by modules/moduledoc (go generate ./modules/...); do not edit. -->\n# %s\n\n", name)
	if m.Header != "" {
		fmt.Fprintf(&b, "%s\n\n", m.Header)
	}
	fmt.Fprintf(&b, "```hcl\nmodule \"cluster\" {\n  source = \"github.com/aerolithdb/aerolith//modules/%s\"\n", name)
	for _, v := range m.Variables {
		if v.Default == "" {
			fmt.Fprintf(&b, "  %s = …\n", v.Name)
		}
	}
	b.WriteString("}\n```\n\n## Providers\n\n")
	for _, p := range m.Providers {
		fmt.Fprintf(&b, "- %s\n", p)
	}
	b.WriteString("\n## Inputs\n\n| name | description | type | default | required |\n|---|---|---|---|---|\n")
	for _, v := range m.Variables {
		desc := v.Description
		if v.Sensitive {
			desc += " (sensitive)"
		}
		def, req := "`"+v.Default+"`", "no"
		if v.Default == "" {
			def, req = "", "yes"
		}
		fmt.Fprintf(&b, "| `%s` | %s | `%s` | %s | %s |\n", v.Name, cell(desc), cell(v.Type), cell(def), req)
	}
	b.WriteString("\n## Outputs\n\n| name | description |\n|---|---|\n")
	for _, o := range m.Outputs {
		fmt.Fprintf(&b, "| `%s` | %s |\n", o.Name, cell(o.Description))
	}
	return b.String()
}

func cell(s string) string {
	return strings.NewReplacer("|", "\\|", "\n", " ").Replace(s)
}

// Dirs are the module folders under root (those with a main.tf).
func Dirs(root string) ([]string, error) {
	mains, err := filepath.Glob(filepath.Join(root, "*", "main.tf"))
	if err != nil {
		return nil, err
	}
	var dirs []string
	for _, m := range mains {
		dirs = append(dirs, filepath.Dir(m))
	}
	sort.Strings(dirs)
	return dirs, nil
}
