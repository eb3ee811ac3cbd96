package controller_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// TestInstallManifestsAreAccepted sends every object of the kustomization
// in modules/kubernetes to the API server (server-side dry run after the
// namespace), so a field the server does not know or a bad value fails
// here rather than at install time.
func TestInstallManifestsAreAccepted(t *testing.T) {
	if restCfg == nil {
		t.Skip(skipMsg)
	}
	c, err := client.New(restCfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join("..", "..", "modules", "kubernetes")
	var kust struct {
		Namespace string   `json:"namespace"`
		Resources []string `json:"resources"`
	}
	b, err := os.ReadFile(filepath.Join(root, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &kust); err != nil {
		t.Fatal(err)
	}
	var all []byte
	for _, res := range kust.Resources {
		b, err := os.ReadFile(filepath.Join(root, res))
		if err != nil {
			t.Fatal(err)
		}
		all = append(append(all, b...), "\n---\n"...)
	}
	if n := applyDryRun(t, c, all); n < 7 {
		t.Fatalf("%d objects in the kustomization, want the namespace, CRD, roles, bindings, account and deployment", n)
	}
}

// applyDryRun creates the Namespaces of a multi-document YAML stream and
// sends every other object as a server-side dry run; it returns how many
// objects there were.
func applyDryRun(t *testing.T, c client.Client, stream []byte) int {
	t.Helper()
	ctx := context.Background()
	n := 0
	for _, doc := range bytes.Split(stream, []byte("\n---")) {
		if len(bytes.TrimSpace(doc)) == 0 || strings.TrimSpace(string(doc)) == "---" {
			continue
		}
		var u unstructured.Unstructured
		if err := yaml.Unmarshal(doc, &u.Object); err != nil {
			t.Fatalf("%v in\n%s", err, doc)
		}
		if len(u.Object) == 0 {
			continue
		}
		n++
		if u.GetKind() == "Namespace" {
			if err := c.Create(ctx, &u); err != nil && !apierrors.IsAlreadyExists(err) {
				t.Fatalf("create namespace %s: %v", u.GetName(), err)
			}
			continue
		}
		if err := c.Create(ctx, &u, client.DryRunAll); err != nil && !strings.Contains(err.Error(), "already exists") {
			t.Errorf("%s %s refused: %v", u.GetKind(), u.GetName(), err)
		}
	}
	return n
}

// TestHelmChartIsAccepted renders modules/kubernetes/chart with the helm
// CLI `make helm-tool` builds (AEROLITH_HELM) and sends the objects to the
// API server.
func TestHelmChartIsAccepted(t *testing.T) {
	if restCfg == nil {
		t.Skip(skipMsg)
	}
	helm := os.Getenv("AEROLITH_HELM")
	if helm == "" {
		t.Skip("AEROLITH_HELM is unset: run `make test-operator` (it builds helm into .tools)")
	}
	c, err := client.New(restCfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	chart := filepath.Join("..", "..", "modules", "kubernetes", "chart", "aerolith-operator")
	env := append(os.Environ(), "HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
	lint := exec.Command(helm, "lint", "--strict", chart)
	lint.Env = env
	if out, err := lint.CombinedOutput(); err != nil {
		t.Fatalf("helm lint: %v\n%s", err, out)
	}
	tpl := exec.Command(helm, "template", "aerolith", chart, "--namespace", "aerolith-helm", "--include-crds", "--set", "watchNamespace=prod")
	tpl.Env = env
	out, err := tpl.Output()
	if err != nil {
		t.Fatalf("helm template: %v", err)
	}
	if !bytes.Contains(out, []byte("--namespace=prod")) {
		t.Errorf("rendered chart does not pass watchNamespace to the operator")
	}
	ns := []byte("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: aerolith-helm\n---\n")
	if n := applyDryRun(t, c, append(ns, out...)); n < 8 {
		t.Fatalf("%d objects rendered, want the CRD, account, roles, bindings and deployment", n)
	}
}

// TestExampleClusterIsAccepted: examples/kubernetes/cluster.yaml passes
// the CRD's validation.
func TestExampleClusterIsAccepted(t *testing.T) {
	c, ns := crdClient(t, "example")
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", "kubernetes", "cluster.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var u unstructured.Unstructured
	if err := yaml.Unmarshal(b, &u.Object); err != nil {
		t.Fatal(err)
	}
	u.SetNamespace(ns)
	if err := c.Create(context.Background(), &u, client.DryRunAll); err != nil {
		t.Fatalf("example cluster refused: %v", err)
	}
}
