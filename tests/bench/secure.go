package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/aerolithdb/aerolith/internal/seal"
	"github.com/aerolithdb/aerolith/tests/proctest"
)

// The secure comparison (issue: state the cost of TLS and encryption at
// rest): "off" is a plain cluster (--insecure-http: plain HTTP and plain
// raft), "on" a cluster with its own CA, node certificates, HTTPS for the
// data API, mutual TLS on the raft port and encryption at rest under a
// master key (--master-key-file). The load generator speaks HTTPS to "on"
// over the same keep-alive connections (one handshake per connection).
func benchSecure(ctx context.Context, o options, bin, dir string, stdout io.Writer) ([]ABResult, []ABRatio, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	var onArgs []string
	what := "TLS and encryption at rest"
	if o.noEncrypt {
		what = "TLS (no encryption at rest)"
	} else {
		mk := filepath.Join(dir, "master.key")
		if _, err := seal.GenerateMasterKey(mk); err != nil {
			return nil, nil, err
		}
		onArgs = []string{"--master-key-file", mk}
	}
	fmt.Fprintf(stdout, "# secure comparison: %d pairs of clusters x %d rounds of put and linearizable get, %d clients, %d requests each; off = plain HTTP and raft, on = %s\n",
		o.abPairs, o.managedRounds, o.clients, o.managedTotal, what)
	var results []ABResult
	for pair := 1; pair <= o.abPairs; pair++ {
		rs, err := benchSecurePair(ctx, o, bin, filepath.Join(dir, fmt.Sprint(pair)), pair, onArgs, stdout)
		if err != nil {
			return nil, nil, err
		}
		results = append(results, rs...)
	}
	ratios := abRatios(results)
	writeABTable(stdout, "secure", "the cost of "+what, ratios)
	return results, ratios, nil
}

// benchSecurePair runs the rounds on one fresh pair of clusters.
func benchSecurePair(ctx context.Context, o options, bin, dir string, pair int, onArgs []string, stdout io.Writer) ([]ABResult, error) {
	stopAll := func(cs ...*proctest.Cluster) {
		for _, c := range cs {
			if c != nil {
				stopCluster(c)
			}
		}
	}
	off, err := startSide(ctx, o, bin, filepath.Join(dir, "off"), false, nil)
	if err != nil {
		stopAll(off)
		return nil, fmt.Errorf("secure off cluster: %w", err)
	}
	on, err := startSide(ctx, o, bin, filepath.Join(dir, "on"), true, onArgs)
	defer stopAll(off, on)
	if err != nil {
		return nil, fmt.Errorf("secure on cluster: %w", err)
	}
	return runAB(ctx, o, "secure", pair,
		abSide{Name: "off", Cluster: off, Key: off.AdminKey()},
		abSide{Name: "on", Cluster: on, Key: on.AdminKey(), TLS: on.ClientTLS()}, stdout)
}
