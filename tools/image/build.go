package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// releasePkg is the package whose link-time variables name the release
// (internal/release in the main module; the operator links it too).
const releasePkg = "github.com/aerolithdb/aerolith/internal/release"

// platform is a linux target, "linux/amd64" or "linux/arm/v7".
type platform struct{ OS, Arch, Variant string }

func (p platform) String() string {
	if p.Variant != "" {
		return p.OS + "/" + p.Arch + "/" + p.Variant
	}
	return p.OS + "/" + p.Arch
}

// parsePlatforms reads a comma-separated list of linux platforms.
func parsePlatforms(s string) ([]platform, error) {
	var out []platform
	seen := map[string]bool{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		parts := strings.Split(f, "/")
		if len(parts) < 2 || len(parts) > 3 || parts[0] != "linux" || parts[1] == "" {
			return nil, fmt.Errorf("platform %q: want linux/ARCH or linux/arm/vN", f)
		}
		p := platform{OS: parts[0], Arch: parts[1]}
		if len(parts) == 3 {
			if p.Arch != "arm" || !strings.HasPrefix(parts[2], "v") {
				return nil, fmt.Errorf("platform %q: only arm takes a variant (v6 or v7)", f)
			}
			p.Variant = parts[2]
		}
		if seen[p.String()] {
			return nil, fmt.Errorf("platform %q given twice", f)
		}
		seen[p.String()] = true
		out = append(out, p)
	}
	return out, nil
}

// buildConfig is what every binary of one run is built with.
type buildConfig struct {
	Go       string // the go command
	Root     string // the repository root
	Version  string
	Revision string
	Registry string
}

// ldflags strips the symbol table and DWARF (the image ships no debugger)
// and stamps the release; the Dockerfile passes the same.
func (c buildConfig) ldflags() string {
	return fmt.Sprintf("-s -w -X %[1]s.version=%[2]s -X %[1]s.revision=%[3]s -X %[1]s.registry=%[4]s",
		releasePkg, c.Version, c.Revision, c.Registry)
}

// build cross-compiles s's binary for p into out: static (no cgo), with
// -trimpath and without VCS stamping, so the same source and toolchain give
// the same bytes wherever they are built.
func (c buildConfig) build(ctx context.Context, s spec, p platform, out string) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, c.Go, "build", "-trimpath", "-buildvcs=false", "-ldflags", c.ldflags(), "-o", out, s.Package)
	cmd.Dir = filepath.Join(c.Root, s.Module)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Arch, "GOFLAGS=-mod=readonly")
	if p.Variant != "" {
		cmd.Env = append(cmd.Env, "GOARM="+strings.TrimPrefix(p.Variant, "v"))
	}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s for %s: %w\n%s", s.Package, p, err, stderr.Bytes())
	}
	return nil
}
