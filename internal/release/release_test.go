package release

import (
	"strings"
	"testing"
)

// TestReleaseMK: the embedded release.mk parses, and what the package
// reports without link-time values is what it says.
func TestReleaseMK(t *testing.T) {
	vars, err := ParseMK(releaseMK)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := Version(), vars["AEROLITH_VERSION"]; got != want {
		t.Errorf("Version() = %q, want %q", got, want)
	}
	if got, want := Image(AgentImageName), vars["AEROLITH_REGISTRY"]+"/aerolith:"+vars["AEROLITH_VERSION"]; got != want {
		t.Errorf("Image(agent) = %q, want %q", got, want)
	}
	if got := Repository(OperatorImageName); !strings.HasSuffix(got, "/aerolith-operator") {
		t.Errorf("Repository(operator) = %q", got)
	}
	if Revision() == "" {
		t.Error("Revision() is empty")
	}
}

func TestParseMK(t *testing.T) {
	tests := []struct {
		name, text, wantErr string
	}{
		{"ok", "# c\n\nAEROLITH_VERSION = v1.2.3-rc.1\nAEROLITH_REGISTRY = r.example/x\n", ""},
		{"no version", "AEROLITH_REGISTRY = r\n", "AEROLITH_VERSION"},
		{"bad version", "AEROLITH_VERSION = 1.2\nAEROLITH_REGISTRY = r\n", "not a version"},
		{"no registry", "AEROLITH_VERSION = v1.0.0\n", "AEROLITH_REGISTRY is missing"},
		{"make syntax", "AEROLITH_VERSION ?= v1.0.0\n", "line 1"},
		{"no value", "AEROLITH_VERSION =\n", "line 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseMK(tt.text)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseMK = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ParseMK = %v, want an error naming %q", err, tt.wantErr)
			}
		})
	}
}
