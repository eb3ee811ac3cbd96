package moduledoc

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// tflintReport is the part of tflint's --format=json output the tests read.
type tflintReport struct {
	Issues []struct {
		Rule struct {
			Name string `json:"name"`
		} `json:"rule"`
		Message string `json:"message"`
		Range   struct {
			Filename string `json:"filename"`
		} `json:"range"`
	} `json:"issues"`
	Errors []struct {
		Message string `json:"message"`
	} `json:"errors"`
}

// runTFLint lints dir with tflint and the module config cfg, the rulesets
// taken from the plugins folder next to the binary (where tools/tflint
// builds them). It returns tflint's exit code and its report.
func runTFLint(t *testing.T, tflint, dir, cfg string) (int, tflintReport) {
	t.Helper()
	cmd := exec.Command(tflint, "--chdir="+dir, "--config="+cfg, "--format=json")
	cmd.Env = append(os.Environ(),
		"TFLINT_PLUGIN_DIR="+filepath.Join(filepath.Dir(tflint), "plugins"),
		"TFLINT_DISABLE_VERSION_CHECK=1",
		"TFLINT_LOG=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	code := 0
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			t.Fatalf("tflint %s: %v", dir, err)
		}
		code = exit.ExitCode()
	}
	var rep tflintReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("tflint %s: exit %d, output not JSON (%v): %s%s", dir, code, err, stdout.String(), stderr.String())
	}
	return code, rep
}

// copyModule copies the .tf files of module dir src into dst (created),
// replacing old with new in file (which must contain old exactly once),
// and returns dst.
func copyModule(t *testing.T, src, dst, file, old, new string) string {
	t.Helper()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(src, "*.tf"))
	if err != nil || len(files) == 0 {
		t.Fatalf("%s: no .tf files (%v)", src, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Base(f) == file {
			if n := bytes.Count(b, []byte(old)); n != 1 {
				t.Fatalf("%s contains %q %d times, want once", f, old, n)
			}
			b = bytes.Replace(b, []byte(old), []byte(new), 1)
		}
		if err := os.WriteFile(filepath.Join(dst, filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// tflintCases: per module, its size input, a value the cloud has (the
// default) and one it has not, and the rule of the cloud's ruleset that
// must name the latter.
var tflintCases = []struct {
	cloud, input, good, bad, rule string
}{
	{"aws", "instance_type", "t3.medium", "t2.nonsense", "aws_instance_invalid_type"},
	{"gcp", "machine_type", "e2-standard-2", "e2-nonsense-2", "google_compute_instance_invalid_machine_type"},
	{"azure", "vm_size", "Standard_D2s_v5", "Standard_Nonsense_v5", "azurerm_linux_virtual_machine_invalid_size"},
}

// tflintBinary is the tflint make test hands over, or skips the test.
func tflintBinary(t *testing.T) string {
	t.Helper()
	tflint := os.Getenv("AEROLITH_TFLINT")
	if tflint == "" {
		t.Skip("AEROLITH_TFLINT is not set: make tools/tflint builds tflint and the aws, google and azurerm rulesets into .tools/tflint-0.64.0 (rulesets in its plugins/), and make test passes the binary's path")
	}
	if _, err := os.Stat(tflint); err != nil {
		t.Fatalf("AEROLITH_TFLINT: %v (make tools/tflint builds it)", err)
	}
	return tflint
}

// wantOnlyRule fails t unless rep has issues, all of rule, naming bad and
// placed in a file named file.
func wantOnlyRule(t *testing.T, code int, rep tflintReport, rule, bad, file string) {
	t.Helper()
	if code != 2 {
		t.Errorf("exit %d, want 2 (issues found); %+v", code, rep)
	}
	if len(rep.Issues) == 0 {
		t.Errorf("no issues, want %s naming %q", rule, bad)
	}
	for _, is := range rep.Issues {
		if is.Rule.Name != rule || !strings.Contains(is.Message, bad) || filepath.Base(is.Range.Filename) != file {
			t.Errorf("issue %s: %s (%s), want %s naming %q in %s", is.Rule.Name, is.Message, is.Range.Filename, rule, bad, file)
		}
	}
}

// TestTFLint: the lint make tflint-modules runs is real. Each module,
// linted with its own .tflint.hcl by the tflint and rulesets tools/tflint
// builds, passes; a copy whose default size is one its cloud does not
// have fails with the cloud ruleset's rule naming that value.
func TestTFLint(t *testing.T) {
	tflint := tflintBinary(t)
	for _, tc := range tflintCases {
		t.Run(tc.cloud, func(t *testing.T) {
			src, err := filepath.Abs(filepath.Join("..", tc.cloud+"-cluster"))
			if err != nil {
				t.Fatal(err)
			}
			cfg := filepath.Join(src, ".tflint.hcl")
			def := `default     = "` + tc.good + `"`

			code, rep := runTFLint(t, tflint, copyModule(t, src, t.TempDir(), "variables.tf", def, def), cfg)
			if code != 0 || len(rep.Issues) != 0 || len(rep.Errors) != 0 {
				t.Fatalf("tflint of the unchanged module: exit %d, %+v, want exit 0 and no issues", code, rep)
			}

			bad := copyModule(t, src, t.TempDir(), "variables.tf", def, `default     = "`+tc.bad+`"`)
			code, rep = runTFLint(t, tflint, bad, cfg)
			wantOnlyRule(t, code, rep, tc.rule, tc.bad, "main.tf")
		})
	}
}

// TestTFLintExamples: make tflint-modules lints the examples through the
// module they call (call_module_type = "local"): an example passing a
// size its cloud does not have fails, the issue placed in the example.
func TestTFLintExamples(t *testing.T) {
	tflint := tflintBinary(t)
	for _, tc := range tflintCases {
		t.Run(tc.cloud, func(t *testing.T) {
			module, err := filepath.Abs(filepath.Join("..", tc.cloud+"-cluster"))
			if err != nil {
				t.Fatal(err)
			}
			example := filepath.Join("..", "..", "examples", "terraform-modules", tc.cloud)
			// The same layout as the repository's, so the example's
			// source = "../../../modules/<cloud>-cluster" resolves.
			root := t.TempDir()
			copyModule(t, module, filepath.Join(root, "modules", tc.cloud+"-cluster"), "", "", "")
			src, err := os.ReadFile(filepath.Join(example, "main.tf"))
			if err != nil {
				t.Fatal(err)
			}
			call := regexp.MustCompile(`(?m)^  node_count +=.*$`)
			if len(call.FindAll(src, -1)) != 1 {
				t.Fatalf("%s: no single node_count line in its module call", example)
			}
			src = call.ReplaceAll(src, []byte("$0\n  "+tc.input+" = \""+tc.bad+"\""))
			dir := filepath.Join(root, "examples", "terraform-modules", tc.cloud)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "main.tf"), src, 0o644); err != nil {
				t.Fatal(err)
			}
			code, rep := runTFLint(t, tflint, dir, filepath.Join(module, ".tflint.hcl"))
			wantOnlyRule(t, code, rep, tc.rule, tc.bad, "main.tf")
			for _, is := range rep.Issues {
				if !strings.Contains(filepath.ToSlash(is.Range.Filename), "examples/terraform-modules/") {
					t.Errorf("issue placed in %s, want the example's main.tf", is.Range.Filename)
				}
			}
		})
	}
}
