// Package settingstest holds the test helpers of the daemons' config
// packages (agent/config, billing/service), which load flags, AEROLITH_*
// variables and a YAML file through internal/settings.
package settingstest

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
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

// LoadError is a configuration Load must refuse: flags, environment and
// (when File is set) a YAML file passed as --config.
type LoadError struct {
	Name string
	Args []string
	Env  map[string]string
	File string
	// Want is a part of the error message, which should name the option.
	Want string
}

// CheckLoadErrors runs each case as a subtest: load must fail with an
// error containing its Want.
func CheckLoadErrors[C any](t *testing.T, cases []LoadError, load func(t *testing.T, args []string, env map[string]string) (C, error)) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			args := append([]string(nil), tc.Args...)
			if tc.File != "" {
				args = append(args, "--config", WriteFile(t, "c.yaml", tc.File))
			}
			_, err := load(t, args, tc.Env)
			if err == nil || !strings.Contains(err.Error(), tc.Want) {
				t.Fatalf("Load() error = %v, want it to contain %q", err, tc.Want)
			}
		})
	}
}
