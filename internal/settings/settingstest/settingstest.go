// Package settingstest holds the test helpers of the daemons' config
// packages (agent/config, billing/service), which load flags, AEROLITH_*
// variables and a YAML file through internal/settings.
package settingstest

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/pflag"
)

// Env returns a lookupEnv that reads m instead of the process environment.
func Env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// WriteFile writes content to a file called name in a fresh temporary
// directory and returns its path.
func WriteFile(t testing.TB, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Load registers a daemon's flags on a fresh flag set called name, parses
// args and loads the configuration with env as the environment: what the
// daemon's command does, without the process.
func Load[C any](t testing.TB, name string, register func(*pflag.FlagSet), load func(*pflag.FlagSet, func(string) (string, bool)) (C, error), args []string, env map[string]string) (C, error) {
	t.Helper()
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(&bytes.Buffer{})
	register(fs)
	if err := fs.Parse(args); err != nil {
		var zero C
		return zero, err
	}
	return load(fs, Env(env))
}
