package controller_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	ctx := context.Background()
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
	n := 0
	for _, res := range kust.Resources {
		b, err := os.ReadFile(filepath.Join(root, res))
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range bytes.Split(b, []byte("\n---")) {
			if len(bytes.TrimSpace(doc)) == 0 || strings.TrimSpace(string(doc)) == "---" {
				continue
			}
			var u unstructured.Unstructured
			if err := yaml.Unmarshal(doc, &u.Object); err != nil {
				t.Fatalf("%s: %v", res, err)
			}
			if len(u.Object) == 0 {
				continue
			}
			n++
			if u.GetKind() == "Namespace" {
				if err := c.Create(ctx, &u); err != nil {
					t.Fatalf("%s: create %s: %v", res, u.GetName(), err)
				}
				continue
			}
			if err := c.Create(ctx, &u, client.DryRunAll); err != nil && !strings.Contains(err.Error(), "already exists") {
				t.Errorf("%s: %s %s refused: %v", res, u.GetKind(), u.GetName(), err)
			}
		}
	}
	if n < 7 {
		t.Fatalf("%d objects in the kustomization, want the namespace, CRD, roles, bindings, account and deployment", n)
	}
}

// TestExampleClusterIsAccepted: examples/kubernetes/cluster.yaml passes
// the CRD's validation.
func TestExampleClusterIsAccepted(t *testing.T) {
	c := crdClient(t, "example")
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", "kubernetes", "cluster.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var u unstructured.Unstructured
	if err := yaml.Unmarshal(b, &u.Object); err != nil {
		t.Fatal(err)
	}
	u.SetNamespace("example")
	if err := c.Create(context.Background(), &u, client.DryRunAll); err != nil {
		t.Fatalf("example cluster refused: %v", err)
	}
}
