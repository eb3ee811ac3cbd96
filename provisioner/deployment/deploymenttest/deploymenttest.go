// Package deploymenttest reaches a cluster that a provisioning tool (the
// Terraform provider, the bridged Pulumi provider) keeps in its state
// directory, the way an operator's own tools would behind that tool's
// back: for tests of drift and repair.
package deploymenttest

import (
	"context"
	"testing"

	"github.com/aerolithdb/aerolith/provisioner/deployment"
)

// Open is the deployment of cluster name kept in stateDir. localCommand
// runs a local cluster's instances (the aerolith binary and
// deployment.LocalInstanceCommand); cloud clusters need none.
func Open(t testing.TB, stateDir, name string, localCommand []string) *deployment.Env {
	t.Helper()
	store := deployment.Store{Dir: stateDir}
	rec, sec, err := store.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	env, err := deployment.New(context.Background(), deployment.Config{Store: store, Record: rec, Secrets: sec, LocalCommand: localCommand})
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// Terminate ends the live instance of node through the cluster's own
// driver (the cloud's API, or the local processes), as if someone had
// terminated the VM in the cloud's console.
func Terminate(t testing.TB, env *deployment.Env, node string) {
	t.Helper()
	insts, err := env.Drv.Instances(context.Background(), &env.Rec.Spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range insts {
		if in.NodeID == node && in.State.Live() {
			if err := env.Drv.Terminate(context.Background(), &env.Rec.Spec, in); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("no live instance of %s", node)
}
