// Command generate regenerates what `make generate` checks in for the
// Pulumi provider: the package schema (tfgen, from the Terraform
// provider's schema and its docs in provider/docs) and the Go, TypeScript
// and Python SDKs generated from it with Pulumi's own code generators.
// Running it through the Pulumi CLI (`pulumi package gen-sdk`) would need
// the CLI to load the plugin through a language host; calling the
// generators on the bound schema needs neither and gives the same files.
//
// Usage (from stacks/): go run ./provider/cmd/generate -out .
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	pftfgen "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfgen"
	gogen "github.com/pulumi/pulumi/pkg/v3/codegen/go"
	nodejsgen "github.com/pulumi/pulumi/pkg/v3/codegen/nodejs"
	pythongen "github.com/pulumi/pulumi/pkg/v3/codegen/python"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/diag/colors"

	"github.com/aerolithdb/aerolith/stacks/provider"
)

const tool = "aerolith-generate"

func main() {
	out := flag.String("out", ".", "the stacks/ directory: writes provider/schema.json and sdk/{go,nodejs,python}")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "generate:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	sink := diag.DefaultSink(os.Stderr, os.Stderr, diag.FormatOptions{Color: colors.Never})
	// The descriptions come from the Terraform provider's docs in this
	// repository (tfplugindocs writes provider/docs/resources and
	// data-sources), never from a download; a resource or data source
	// without its page fails the generation instead of losing its docs.
	info := provider.Info()
	info.UpstreamRepoPath = filepath.Join(out, "..", "provider")
	if _, err := os.Stat(filepath.Join(info.UpstreamRepoPath, "docs", "resources")); err != nil {
		return fmt.Errorf("the Terraform provider's docs: %w", err)
	}
	if err := os.Setenv("PULUMI_MISSING_DOCS_ERROR", "true"); err != nil {
		return err
	}
	res, err := pftfgen.GenerateSchema(context.Background(), pftfgen.GenerateSchemaOptions{
		ProviderInfo:    info,
		DiagnosticsSink: sink,
	})
	if err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	var spec schema.PackageSpec
	if err := json.Unmarshal(res.ProviderMetadata.PackageSchema, &spec); err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	indented, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "provider", "schema.json"), append(indented, '\n'), 0o644); err != nil {
		return err
	}

	type sdk struct {
		lang string
		gen  func(*schema.Package) (map[string][]byte, error)
	}
	sdks := []sdk{
		{"go", func(p *schema.Package) (map[string][]byte, error) { return gogen.GeneratePackage(tool, p, nil) }},
		{"nodejs", func(p *schema.Package) (map[string][]byte, error) {
			files, err := nodejsgen.GeneratePackage(tool, p, nil, nil, false, nil)
			if err != nil {
				return nil, err
			}
			return fixNestedImports(files), nil
		}},
		{"python", func(p *schema.Package) (map[string][]byte, error) {
			return pythongen.GeneratePackage(tool, p, nil, nil)
		}},
	}
	for _, s := range sdks {
		// Each generator records its language's state in the package, so
		// each gets a freshly bound one.
		pkg, diags, err := schema.BindSpec(spec, nil, schema.ValidationOptions{})
		if err != nil {
			return fmt.Errorf("bind schema: %w", err)
		}
		if diags.HasErrors() {
			return fmt.Errorf("bind schema: %w", diags)
		}
		files, err := s.gen(pkg)
		if err != nil {
			return fmt.Errorf("%s sdk: %w", s.lang, err)
		}
		if err := writeTree(filepath.Join(out, "sdk", s.lang), files); err != nil {
			return fmt.Errorf("%s sdk: %w", s.lang, err)
		}
	}
	return nil
}

// fixNestedImports corrects the root-relative imports of the TypeScript
// files in subfolders (config/, types/): pkg/codegen/nodejs v3.218 (the
// version the bridge pins) computes them with filepath.Rel, whose result
// changed in Go 1.26 (pulumi/pulumi fixed it later), so they come out one
// level short ("./utilities" in config/vars.ts). An import that names no
// file beside the importing one but names one at the root is pointed at
// the root. tsc (make check-sdk-nodejs) checks the result.
func fixNestedImports(files map[string][]byte) map[string][]byte {
	exists := func(p string) bool {
		for _, c := range []string{p + ".ts", p + "/index.ts", p} {
			if _, ok := files[c]; ok {
				return true
			}
		}
		return false
	}
	out := make(map[string][]byte, len(files))
	for name, b := range files {
		dir := path.Dir(name)
		if !strings.HasSuffix(name, ".ts") || dir == "." {
			out[name] = b
			continue
		}
		up := strings.Repeat("../", strings.Count(dir, "/")+1)
		out[name] = importRE.ReplaceAllFunc(b, func(m []byte) []byte {
			target := string(importRE.FindSubmatch(m)[1])
			if exists(path.Join(dir, target)) || !exists(path.Clean(target)) {
				return m
			}
			return bytes.Replace(m, []byte(`"`+target+`"`), []byte(`"`+up+strings.TrimPrefix(target, "./")+`"`), 1)
		})
	}
	return out
}

var importRE = regexp.MustCompile(`from "(\./[^"]+)"`)

// writeTree replaces dir with exactly files, so a type the provider drops
// disappears from the SDK too.
func writeTree(dir string, files map[string][]byte) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	for name, b := range files {
		if strings.Contains(name, "..") {
			return fmt.Errorf("generator wrote outside its folder: %s", name)
		}
		// The Go SDK is a package of the stacks module, not a module of its own.
		if filepath.Base(name) == "go.mod" {
			continue
		}
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if !bytes.HasSuffix(b, []byte("\n")) && len(b) > 0 {
			b = append(b, '\n')
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
