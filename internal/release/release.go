// Package release is the identity of an Aerolith build: its version, the
// source revision it was built from and the container images it is
// published as. The defaults come from release.mk, which the Makefile
// reads too; a release build overrides them at link time:
//
//	go build -ldflags "-X github.com/aerolithdb/aerolith/internal/release.version=v1.2.3 \
//	  -X github.com/aerolithdb/aerolith/internal/release.revision=$(git rev-parse HEAD)"
//
// (make images and the Dockerfile do). The operator module imports it as
// well, so the operator deploys the agent image of its own release.
package release

import (
	"bufio"
	_ "embed"
	"fmt"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
)

// Names of the two images, under Registry.
const (
	AgentImageName    = "aerolith"
	OperatorImageName = "aerolith-operator"
)

//go:embed release.mk
var releaseMK string

// Set at link time (-X); empty means release.mk's value.
var (
	version  string
	registry string
	revision string
)

// versionPattern is the form of a release version, as the CRD's
// spec.version accepts it.
var versionPattern = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$`)

type identity struct{ version, registry string }

// defaults parses release.mk once; a malformed file is a build defect that
// TestReleaseMK catches, so it panics rather than running mislabelled.
var defaults = sync.OnceValue(func() identity {
	vars, err := ParseMK(releaseMK)
	if err != nil {
		panic("internal/release: release.mk: " + err.Error())
	}
	return identity{version: vars["AEROLITH_VERSION"], registry: vars["AEROLITH_REGISTRY"]}
})

// ParseMK reads the NAME = value lines of a release.mk (comments and blank
// lines skipped) and checks that it names a valid version and a registry.
func ParseMK(text string) (map[string]string, error) {
	vars := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || name == "" || strings.ContainsAny(name, " \t:?+") || value == "" {
			return nil, fmt.Errorf("line %d: want NAME = value, got %q", n, line)
		}
		vars[name] = value
	}
	if !versionPattern.MatchString(vars["AEROLITH_VERSION"]) {
		return nil, fmt.Errorf("AEROLITH_VERSION %q is not a version like v1.2.3", vars["AEROLITH_VERSION"])
	}
	if vars["AEROLITH_REGISTRY"] == "" {
		return nil, fmt.Errorf("AEROLITH_REGISTRY is missing")
	}
	return vars, nil
}

// Version is the release this binary is, such as v0.1.0.
func Version() string {
	if version != "" {
		return version
	}
	return defaults().version
}

// Registry is where the release's images are published, such as
// ghcr.io/aerolithdb.
func Registry() string {
	if registry != "" {
		return registry
	}
	return defaults().registry
}

// Revision is the source revision (git commit) the binary was built from:
// the link-time value, else what the go command recorded, else "unknown".
func Revision() string {
	if revision != "" {
		return revision
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && s.Value != "" {
				return s.Value
			}
		}
	}
	return "unknown"
}

// Repository is the repository of the image called name (AgentImageName or
// OperatorImageName) under Registry.
func Repository(name string) string { return Registry() + "/" + name }

// Image is the reference of image name at this release's version, such as
// ghcr.io/aerolithdb/aerolith:v0.1.0.
func Image(name string) string { return Repository(name) + ":" + Version() }
