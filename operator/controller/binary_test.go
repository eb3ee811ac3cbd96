package controller_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/aerolithdb/aerolith/tests/proctest"
)

// useMainModuleBinary builds the aerolith command inside the main module
// (the repository root) and points proctest at it. The operator is a module
// of its own whose build list carries the Kubernetes libraries' upgrades
// (bbolt, client_golang, ...); a binary built from here would link those
// instead of the versions the main module pins and ships. A binary named
// by proctest.BinaryEnv already is used as it is. It returns a cleanup.
func useMainModuleBinary() (func(), error) {
	if os.Getenv(proctest.BinaryEnv) != "" {
		return func() {}, nil
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "aerolith-operator-bin-")
	if err != nil {
		return nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	out := filepath.Join(dir, "aerolith")
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", proctest.FaultsTag, "-o", out, "./cmd/aerolith")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		cleanup()
		return nil, fmt.Errorf("go build ./cmd/aerolith in %s: %w\n%s", root, err, b)
	}
	if err := os.Setenv(proctest.BinaryEnv, out); err != nil {
		cleanup()
		return nil, err
	}
	return cleanup, nil
}
