package deprules

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/aerolithdb/aerolith/"

// pkg is what go list says of one package.
type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

// rule forbids the packages For selects to depend, directly or not, on any
// package Forbidden matches.
type rule struct {
	name      string
	For       func(path string) bool
	Forbidden func(dep string) bool
}

func under(prefix string) func(string) bool {
	return func(p string) bool { return p == module+prefix || strings.HasPrefix(p, module+prefix+"/") }
}

func is(paths ...string) func(string) bool {
	return func(p string) bool {
		for _, want := range paths {
			if p == want || !strings.Contains(want, ".") && p == module+want {
				return true
			}
		}
		return false
	}
}

func either(fs ...func(string) bool) func(string) bool {
	return func(p string) bool {
		for _, f := range fs {
			if f(p) {
				return true
			}
		}
		return false
	}
}

var rules = []rule{
	{
		// The agent talks to billing over HTTP: it links the contract and
		// the client, never billing's state machine or service.
		name:      "agent packages link no billing ledger or service",
		For:       under("agent"),
		Forbidden: either(under("billing/ledger"), under("billing/service"), under("billing/api")),
	},
	{
		// The clients are what a Terraform provider or a provisioner
		// links: no database, no state machine.
		name:      "clients link no storage and no state machine",
		For:       is("billing/client", "agent/client", "billing/contract"),
		Forbidden: either(under("billing/ledger"), under("billing/service"), under("billing/api"), under("store"), is("go.etcd.io/bbolt", "github.com/hashicorp/raft")),
	},
	{
		// The Terraform provider is a thin layer over the provisioner and
		// the clients: it runs on a user's machine and links no database.
		name:      "the Terraform provider links no storage and no state machine",
		For:       either(under("provider"), under("cmd/terraform-provider-aerolith")),
		Forbidden: either(under("billing/ledger"), under("billing/service"), under("billing/api"), under("store"), under("agent/document"), is("go.etcd.io/bbolt", "github.com/hashicorp/raft")),
	},
	{
		// Billing is an independent daemon; what it shares with the agent
		// lives in internal/ packages or billing/contract.
		name:      "billing packages import no agent package",
		For:       under("billing"),
		Forbidden: under("agent"),
	},
	{
		// The state machines' one error type carries HTTP statuses as
		// plain numbers: linking it must not pull HTTP (or anything of
		// Aerolith) into a state machine.
		name:      "internal/apierr imports no net/http and nothing of aerolith",
		For:       is("internal/apierr"),
		Forbidden: func(p string) bool { return p == "net/http" || strings.HasPrefix(p, module) },
	},
	{
		// The contract is the boundary itself: it depends on nothing of
		// Aerolith.
		name:      "billing/contract imports nothing of aerolith",
		For:       is("billing/contract"),
		Forbidden: func(p string) bool { return strings.HasPrefix(p, module) },
	},
}

// goList runs go list on the agent and billing trees with the given build
// tags and returns the packages by import path.
func goList(t *testing.T, tags string) map[string]pkg {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	args := []string{"list", "-deps", "-json=ImportPath,Imports,Deps"}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	args = append(args, module+"agent/...", module+"billing/...", module+"provider/...", module+"cmd/terraform-provider-aerolith")
	cmd := exec.Command(gobin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	pkgs := map[string]pkg{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		pkgs[p.ImportPath] = p
	}
	if len(pkgs) == 0 {
		t.Fatal("go list listed no packages")
	}
	return pkgs
}

// chain returns the import path from from to to, for the failure message.
func chain(pkgs map[string]pkg, from, to string) []string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if p == to {
			var path []string
			for ; p != ""; p = prev[p] {
				path = append(path, p)
			}
			slices.Reverse(path)
			return path
		}
		for _, imp := range pkgs[p].Imports {
			if _, seen := prev[imp]; !seen {
				prev[imp] = p
				queue = append(queue, imp)
			}
		}
	}
	return []string{from, "…", to}
}

// violations lists every rule broken in pkgs, one line each naming the
// package, the forbidden dependency and how it is reached.
func violations(pkgs map[string]pkg) []string {
	var out []string
	for _, r := range rules {
		for path, p := range pkgs {
			if !r.For(path) {
				continue
			}
			for _, dep := range p.Deps {
				if r.Forbidden(dep) {
					out = append(out, r.name+": "+path+" depends on "+dep+" ("+strings.Join(chain(pkgs, path, dep), " → ")+")")
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

func TestDependencyRules(t *testing.T) {
	for _, tags := range []string{"", "faults"} {
		pkgs := goList(t, tags)
		for _, must := range []string{"agent", "agent/client", "billing/client", "billing/contract", "billing/ledger", "internal/apierr", "provider"} {
			if _, ok := pkgs[module+must]; !ok {
				t.Fatalf("tags %q: go list did not list %s", tags, must)
			}
		}
		for _, v := range violations(pkgs) {
			t.Errorf("tags %q: %s", tags, v)
		}
	}
}

// TestRulesCatch: the rules flag a forbidden import when there is one (a
// made-up graph in which the client reaches bbolt through the ledger).
func TestRulesCatch(t *testing.T) {
	pkgs := map[string]pkg{
		module + "billing/client": {ImportPath: module + "billing/client", Imports: []string{module + "billing/ledger"},
			Deps: []string{module + "billing/ledger", "go.etcd.io/bbolt"}},
		module + "billing/ledger": {ImportPath: module + "billing/ledger", Imports: []string{"go.etcd.io/bbolt"}, Deps: []string{"go.etcd.io/bbolt"}},
		module + "billing/service": {ImportPath: module + "billing/service", Imports: []string{module + "agent/httpapi"},
			Deps: []string{module + "agent/httpapi"}},
	}
	got := violations(pkgs)
	want := []string{
		"billing packages import no agent package: " + module + "billing/service depends on " + module + "agent/httpapi (" + module + "billing/service → " + module + "agent/httpapi)",
		"clients link no storage and no state machine: " + module + "billing/client depends on " + module + "billing/ledger (" + module + "billing/client → " + module + "billing/ledger)",
		"clients link no storage and no state machine: " + module + "billing/client depends on go.etcd.io/bbolt (" + module + "billing/client → " + module + "billing/ledger → go.etcd.io/bbolt)",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("violations =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
