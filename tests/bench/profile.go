package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"github.com/aerolithdb/aerolith/tests/proctest"
)

// Profiling (-pprof-dir): the agents of the A/B comparisons run with
// --pprof-addr 127.0.0.1:0, and during round 1 each workload's CPU profile
// of every node is saved as DIR/<comparison>-<side>-<op>-<node>.pprof
// (inspect with go tool pprof -top bin/aerolith FILE).

// pprofArgs are the agent arguments that enable the profiling endpoint.
var pprofArgs = []string{"--pprof-addr", "127.0.0.1:0"}

var pprofAddrRE = regexp.MustCompile(`profiling endpoint enabled.*addr=(\S+)`)

// pprofAddrs returns each node's profiling address, read from its log.
func pprofAddrs(c *proctest.Cluster) ([]string, error) {
	addrs := make([]string, c.N())
	for i := range c.N() {
		raw, err := os.ReadFile(c.LogPath(i))
		if err != nil {
			return nil, err
		}
		m := pprofAddrRE.FindAllSubmatch(raw, -1)
		if len(m) == 0 {
			return nil, fmt.Errorf("%s: no profiling endpoint in its log (started without --pprof-addr?)", c.NodeID(i))
		}
		addrs[i] = string(m[len(m)-1][1])
	}
	return addrs, nil
}

// profiler collects CPU profiles of a cluster's nodes while a workload runs.
type profiler struct {
	dir, prefix string
	c           *proctest.Cluster
	addrs       []string
	wg          sync.WaitGroup
	errs        chan error
}

// startProfiles starts a CPU profile of d on every node of c (d should be
// shorter than the workload); wait collects them.
func startProfiles(ctx context.Context, dir, prefix string, c *proctest.Cluster, d time.Duration) (*profiler, error) {
	addrs, err := pprofAddrs(c)
	if err != nil {
		return nil, err
	}
	p := &profiler{dir: dir, prefix: prefix, c: c, addrs: addrs, errs: make(chan error, len(addrs))}
	for i, addr := range addrs {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.errs <- fetchProfile(ctx, addr, d, filepath.Join(dir, fmt.Sprintf("%s-%s.pprof", prefix, c.NodeID(i))))
		}()
	}
	return p, nil
}

func (p *profiler) wait() error {
	p.wg.Wait()
	close(p.errs)
	for err := range p.errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func fetchProfile(ctx context.Context, addr string, d time.Duration, out string) error {
	secs := max(int(d/time.Second), 1)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, secs), nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Timeout: d + time.Minute}).Do(req)
	if err != nil {
		return fmt.Errorf("profile %s: %w", addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile %s: status %d", addr, resp.StatusCode)
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
