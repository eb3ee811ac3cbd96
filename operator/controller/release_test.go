package controller

import (
	"os"
	"path/filepath"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/aerolithdb/aerolith/internal/release"
)

// TestReleaseIdentityAgrees: internal/release (release.mk) is the one
// source of the version and image names, which make images builds; the
// CRD's default spec.version, the Helm chart, the kustomization and the
// example cluster must name the same, so a release bump that misses one
// fails here.
func TestReleaseIdentityAgrees(t *testing.T) {
	root := filepath.Join("..", "..")
	doc := func(path string) map[string]any {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(root, path))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := yaml.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return m
	}
	crd := doc("modules/kubernetes/crd/aerolithdb.io_aerolithclusters.yaml")
	chart := doc("modules/kubernetes/chart/aerolith-operator/Chart.yaml")
	values := doc("modules/kubernetes/chart/aerolith-operator/values.yaml")
	kust := doc("modules/kubernetes/kustomization.yaml")
	deploy := doc("modules/kubernetes/operator/deployment.yaml")
	example := doc("examples/kubernetes/cluster.yaml")

	v, op := release.Version(), release.Repository(release.OperatorImageName)
	tests := []struct {
		what string
		got  any
		want string
	}{
		{"CRD default spec.version", dig(crd, "spec", "versions", 0, "schema", "openAPIV3Schema", "properties", "spec", "properties", "version", "default"), v},
		{"Chart.yaml appVersion", chart["appVersion"], v},
		{"values.yaml image.repository", dig(values, "image", "repository"), op},
		{"kustomization images[0].name", dig(kust, "images", 0, "name"), op},
		{"kustomization images[0].newTag", dig(kust, "images", 0, "newTag"), v},
		{"operator/deployment.yaml image", dig(deploy, "spec", "template", "spec", "containers", 0, "image"), op},
		{"examples/kubernetes/cluster.yaml spec.version", dig(example, "spec", "version"), v},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %q (internal/release/release.mk)", tt.what, tt.got, tt.want)
		}
	}
}

// dig follows keys (strings into maps, ints into lists) through a decoded
// YAML document; nil when the path is not there.
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

// TestDefaultImage: without spec.image the nodes run the release's agent
// image at spec.version, else at the operator's own version.
func TestDefaultImage(t *testing.T) {
	ac := testCluster("Enrollment")
	if got, want := image(ac), release.Repository(release.AgentImageName)+":v1.2.3"; got != want {
		t.Errorf("image(version v1.2.3) = %q, want %q", got, want)
	}
	ac.Spec.Version = ""
	if got, want := image(ac), release.Image(release.AgentImageName); got != want {
		t.Errorf("image(no version) = %q, want %q", got, want)
	}
	ac.Spec.Image = "registry.example/aerolith@sha256:0123"
	if got := image(ac); got != ac.Spec.Image {
		t.Errorf("image(spec.image) = %q, want %q", got, ac.Spec.Image)
	}
}
