package proctest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// BinaryEnv names the environment variable that, when set, points at a
// prebuilt aerolith binary; BuildBinary then uses it instead of building.
const BinaryEnv = "AEROLITH_TEST_BINARY"

// Package is the import path of the aerolith command.
const Package = "github.com/aerolithdb/aerolith/cmd/aerolith"

// BuildBinary builds the aerolith command (without -race: the processes under
// test are ordinary binaries even when the test binary itself runs with the
// race detector) into outDir and returns the binary's path. The current
// directory must be inside the aerolith module. When the environment
// variable named by BinaryEnv is set, its value is checked and returned
// instead. tags are Go build tags: RunMain builds test binaries with
// "faults" (fault injection: Cluster.Isolate and Heal need it).
func BuildBinary(ctx context.Context, outDir string, tags ...string) (string, error) {
	if p := os.Getenv(BinaryEnv); p != "" {
		st, err := os.Stat(p)
		if err != nil {
			return "", fmt.Errorf("%s: %w", BinaryEnv, err)
		}
		if st.IsDir() || st.Mode()&0o111 == 0 {
			return "", fmt.Errorf("%s: %s is not an executable file", BinaryEnv, p)
		}
		return p, nil
	}
	if outDir == "" {
		return "", errors.New("build aerolith: output directory is empty")
	}
	name := "aerolith"
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	out := filepath.Join(outDir, name)
	args := []string{"build", "-o", out}
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
	}
	cmd := exec.CommandContext(ctx, "go", append(args, Package)...)
	var stderr bytes.Buffer
	cmd.Stdout = &stderr
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", Package, err, stderr.Bytes())
	}
	return out, nil
}
