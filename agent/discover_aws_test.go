package agent

import (
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/aerolithdb/aerolith/agent/config"
	"github.com/aerolithdb/aerolith/agent/discover/discovertest"
	"github.com/aerolithdb/aerolith/internal/testwait"
)

// commonPort returns a port free on every one of hosts: nodes found by
// cloud tags share one raft port on distinct addresses.
func commonPort(t *testing.T, hosts ...string) int {
	t.Helper()
	for range 50 {
		ln, err := net.Listen("tcp", hosts[0]+":0")
		if err != nil {
			t.Skipf("cannot listen on %s: %v", hosts[0], err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		lns := []net.Listener{ln}
		ok := true
		for _, h := range hosts[1:] {
			l, err := net.Listen("tcp", net.JoinHostPort(h, strconv.Itoa(port)))
			if err != nil {
				ok = false
				break
			}
			lns = append(lns, l)
		}
		for _, l := range lns {
			l.Close()
		}
		if ok {
			return port
		}
	}
	t.Fatal("no port free on every host")
	return 0
}

// TestDiscoverAWSCluster: three unmanaged agents on distinct loopback
// addresses, started with --discover provider=aws (the tag, and the
// endpoint of a fake EC2 speaking EC2's wire protocol) and
// --bootstrap-expect 3 instead of --join, form one cluster; an instance
// of another cluster's tag and a terminated one are not taken.
func TestDiscoverAWSCluster(t *testing.T) {
	discovertest.Env(t)
	hosts := []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}
	raftPort := commonPort(t, hosts...)
	tag := map[string]string{"aerolith-cluster": "c1"}
	ec2 := discovertest.NewEC2(0,
		discovertest.Instance{ID: "i-1", State: "running", PrivateIP: hosts[0], Tags: tag},
		discovertest.Instance{ID: "i-9", State: "running", PrivateIP: "127.0.0.9", Tags: map[string]string{"aerolith-cluster": "c2"}},
		discovertest.Instance{ID: "i-2", State: "running", PrivateIP: hosts[1], Tags: tag},
		discovertest.Instance{ID: "i-8", State: "terminated", PrivateIP: "127.0.0.8", Tags: tag},
		discovertest.Instance{ID: "i-3", State: "running", PrivateIP: hosts[2], Tags: tag},
	)
	srv := httptest.NewServer(ec2)
	defer srv.Close()

	agents := make([]*Agent, len(hosts))
	for i, h := range hosts {
		c := config.Default()
		c.InsecureHTTP = true // plain HTTP in-process
		c.NodeID = fmt.Sprintf("node%d", i+1)
		c.DataDir = t.TempDir()
		c.RaftAddr, c.HTTPAddr = net.JoinHostPort(h, strconv.Itoa(raftPort)), h+":0"
		c.BootstrapExpect = 3
		c.Discover = "provider=aws region=eu-west-1 tag_key=aerolith-cluster tag_value=c1 endpoint=" + srv.URL
		c.AdminKey = testKey
		a, err := New(c, quietLogger())
		if err != nil {
			t.Fatal(err)
		}
		agents[i] = a
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, len(agents))
	for i, a := range agents {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = a.Open(ctx) }()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("agent %d Open: %v", i, err)
		}
		t.Cleanup(func() { agents[i].Close() })
	}
	testwait.Until(t, waitLimit, "one cluster of the three tagged nodes", func() bool {
		for _, a := range agents {
			var ci clusterInfo
			if call(t, "GET", "http://"+a.HTTPAddr()+"/api/v1/cluster", "", &ci) != 200 || ci.LeaderID == "" || len(ci.Members) != 3 {
				return false
			}
			for _, m := range ci.Members {
				if !m.Voter {
					return false
				}
			}
		}
		return true
	})
	if ec2.Calls() == 0 {
		t.Fatal("the fake EC2 was never asked")
	}
}
