package store

import (
	"net"
	"strings"
	"testing"
	"time"
)

func TestConfigValidation(t *testing.T) {
	valid := func() Config {
		return Config{NodeID: "n1", Dir: "/tmp/x", RaftAddr: "127.0.0.1:7071"}
	}
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string // substring naming the field; "" means valid
	}{
		{"valid", func(*Config) {}, ""},
		{"no node id", func(c *Config) { c.NodeID = "" }, "NodeID"},
		{"node id with space", func(c *Config) { c.NodeID = "a b" }, "NodeID"},
		{"no dir", func(c *Config) { c.Dir = "" }, "Dir"},
		{"no raft addr", func(c *Config) { c.RaftAddr = "" }, "RaftAddr"},
		{"bad raft addr", func(c *Config) { c.RaftAddr = "nope" }, "RaftAddr"},
		{"unspecified advertise", func(c *Config) { c.RaftAddr = "0.0.0.0:7071" }, "AdvertiseAddr"},
		{"empty host advertise", func(c *Config) { c.RaftAddr = ":7071" }, "AdvertiseAddr"},
		{"ipv6 unspecified", func(c *Config) { c.AdvertiseAddr = "[::]:7071" }, "AdvertiseAddr"},
		{"explicit advertise fixes wildcard", func(c *Config) { c.RaftAddr = ":7071"; c.AdvertiseAddr = "10.0.0.1:7071" }, ""},
		{"bad log store", func(c *Config) { c.LogStore = "sqlite" }, "LogStore"},
		{"negative batch", func(c *Config) { c.MaxBatch = -1 }, "MaxBatch"},
		{"huge batch", func(c *Config) { c.MaxBatch = 1 << 20 }, "MaxBatch"},
		{"negative expect", func(c *Config) { c.BootstrapExpect = -1 }, "BootstrapExpect"},
		{"expect without join", func(c *Config) { c.BootstrapExpect = 3 }, "Join"},
		{"bad join", func(c *Config) { c.Join = []string{"x"} }, "Join"},
		{"lease above heartbeat", func(c *Config) {
			c.HeartbeatTimeout = 100 * time.Millisecond
			c.LeaderLeaseTimeout = 200 * time.Millisecond
		}, "LeaderLeaseTimeout"},
		{"short heartbeat gets fitting defaults", func(c *Config) { c.HeartbeatTimeout = 50 * time.Millisecond }, ""},
		{"empty meta key", func(c *Config) { c.Meta = map[string]string{"": "x"} }, "Meta"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.mutate(&c)
			got, err := c.withDefaults()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("withDefaults() = %v, want nil", err)
				}
				if got.LeaderLeaseTimeout > got.HeartbeatTimeout || got.ElectionTimeout < got.HeartbeatTimeout {
					t.Fatalf("defaults violate raft's rules: %+v", got)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("withDefaults() = %v, want error naming %s", err, tc.wantErr)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := Config{NodeID: "n", Dir: "d", Listener: ln}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.RaftAddr != ln.Addr().String() || c.AdvertiseAddr != c.RaftAddr {
		t.Errorf("addresses from listener = %q, %q", c.RaftAddr, c.AdvertiseAddr)
	}
	if c.LogStore != DefaultLogStore || c.MaxBatch != DefaultMaxBatch || c.MaxCommandBytes != DefaultMaxCommandBytes ||
		c.SnapshotThreshold != DefaultSnapshotThreshold || c.TrailingLogs != DefaultTrailingLogs ||
		c.HeartbeatTimeout != DefaultHeartbeatTimeout || c.Logger == nil {
		t.Errorf("defaults not applied: %+v", c)
	}
}

func TestNewRejectsNilStateMachine(t *testing.T) {
	if _, err := New(Config{NodeID: "n", Dir: "d", RaftAddr: "127.0.0.1:1"}, nil); err == nil {
		t.Fatal("New with nil StateMachine succeeded")
	}
}
