package main

import (
	"strings"
	"testing"
)

// TestCloudsimHelpNamesEveryCloud: the simulator serves EC2, Compute
// Engine and Azure Resource Manager on one address, and its help says so
// and how to point each driver at it.
func TestCloudsimHelpNamesEveryCloud(t *testing.T) {
	group := runCLI(t, "", "cloudsim", "--help")
	serve := runCLI(t, "", "cloudsim", "serve", "--help")
	if group.code != 0 || serve.code != 0 {
		t.Fatalf("help: exit %d and %d, stderr %q %q", group.code, serve.code, group.stderr, serve.stderr)
	}
	var short string // serve's line in the group's command list
	for _, l := range strings.Split(group.stdout, "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == "serve" {
			short = l
		}
	}
	for _, api := range []string{"EC2", "Compute Engine", "Azure Resource Manager"} {
		if !strings.Contains(short, api) {
			t.Errorf("cloudsim --help lists serve as %q: it does not name %s", short, api)
		}
		if !strings.Contains(serve.stdout, api) {
			t.Errorf("cloudsim serve --help does not name %s:\n%s", api, serve.stdout)
		}
	}
	for _, how := range []string{"--cloud aws", "--cloud gcp", "--cloud azure", "--gcp-key-file", "IDENTITY_ENDPOINT", "/msi/token"} {
		if !strings.Contains(serve.stdout, how) {
			t.Errorf("cloudsim serve --help does not say %q:\n%s", how, serve.stdout)
		}
	}
}
