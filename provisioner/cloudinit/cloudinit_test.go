package cloudinit

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aerolithdb/aerolith/agent/config"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var sha = strings.Repeat("0f", 32)

func managedNode() Node {
	return Node{
		Cluster: "shop-prod", NodeID: "shop-prod-n2",
		AgentURL: "https://downloads.example.com/aerolith/v1/aerolith-linux-amd64", AgentSHA256: sha,
		Settings: []Setting{
			{"advertise", "10.0.1.12"},
			{"bootstrap-expect", 3},
			{"join", []string{"10.0.1.11:7071", "10.0.1.12:7071", "10.0.1.13:7071"}},
			{"billing-url", "https://billing.example.com:7080"},
			{"enrollment-token", "et_0123456789abcdef"},
			{"admin-key", "ak_0123456789abcdef0123"},
			{"insecure-http", true},
		},
	}
}

func TestRenderGolden(t *testing.T) {
	tests := []struct {
		name string
		node Node
	}{
		{"managed", managedNode()},
		{"minimal", Node{Cluster: "dev", NodeID: "dev-n1", AgentURL: "http://127.0.0.1:8000/aerolith", AgentSHA256: sha}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Render(tt.node)
			if err != nil {
				t.Fatal(err)
			}
			again, _ := Render(tt.node)
			if !bytes.Equal(got, again) {
				t.Fatal("Render is not deterministic")
			}
			golden := filepath.Join("testdata", tt.name+".yaml")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("Render(%s) differs from %s (go test -update rewrites it):\n%s", tt.name, golden, got)
			}
		})
	}
}

// TestAgentReadsRenderedConfig feeds the rendered configuration file to the
// agent's own loader: every key must be an agent option and every value
// must parse, so the renderer cannot drift from `aerolith agent`.
func TestAgentReadsRenderedConfig(t *testing.T) {
	ud, err := Render(managedNode())
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(ud)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(path, []byte(p.AgentConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"AEROLITH_CONFIG": path}
	c, err := config.Load(nil, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatalf("agent config.Load(rendered file) = %v", err)
	}
	if c.NodeID != "shop-prod-n2" || c.DataDir != DataDir || c.BootstrapExpect != 3 || len(c.Join) != 3 ||
		c.BillingURL != "https://billing.example.com:7080" || c.EnrollmentToken != "et_0123456789abcdef" || !c.InsecureHTTP {
		t.Fatalf("agent read %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("agent Validate(rendered config) = %v", err)
	}
}

func TestParseRoundTrip(t *testing.T) {
	n := managedNode()
	ud, err := Render(n)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(ud)
	if err != nil {
		t.Fatal(err)
	}
	if p.AgentURL != n.AgentURL || p.AgentSHA256 != n.AgentSHA256 {
		t.Fatalf("Parse: artifact %q %q", p.AgentURL, p.AgentSHA256)
	}
	for _, path := range []string{ConfigPath, UnitPath, InstallPath, ArtifactEnv} {
		if p.Files[path] == "" {
			t.Errorf("Parse: %s missing", path)
		}
	}
	if !strings.Contains(p.Files[InstallPath], "sha256sum --check") {
		t.Error("install script does not check the digest")
	}
}

func TestRenderRefuses(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Node)
		want string
	}{
		{"cluster", func(n *Node) { n.Cluster = "a b" }, "cluster"},
		{"node id", func(n *Node) { n.NodeID = "../x" }, "node id"},
		{"url with quote", func(n *Node) { n.AgentURL = `https://x/"; rm -rf /` }, "agent url"},
		{"url with dollar", func(n *Node) { n.AgentURL = "https://x/$(id)" }, "agent url"},
		{"sha", func(n *Node) { n.AgentSHA256 = "00" }, "sha256"},
		{"reserved", func(n *Node) { n.Settings = append(n.Settings, Setting{"data-dir", "/tmp"}) }, "written by the renderer"},
		{"twice", func(n *Node) { n.Settings = append(n.Settings, Setting{"advertise", "x"}) }, "twice"},
		{"bad key", func(n *Node) { n.Settings = append(n.Settings, Setting{"Bad Key", "x"}) }, "option name"},
		{"bad type", func(n *Node) { n.Settings = append(n.Settings, Setting{"x", 1.5}) }, "type"},
		{"comma in list", func(n *Node) { n.Settings = append(n.Settings, Setting{"y", []string{"a,b"}}) }, "comma"},
		{"file elsewhere", func(n *Node) { n.Files = []File{{Path: "/etc/passwd", Content: "x"}} }, "want /etc/aerolith/"},
		{"file over config", func(n *Node) { n.Files = []File{{Path: ConfigPath, Content: "x"}} }, "not one the renderer writes"},
		{"file with a key", func(n *Node) {
			n.Files = []File{{Path: FilesDir + "tls.key", Content: "-----BEGIN EC PRIVATE KEY-----\n"}}
		}, "private key"},
		{"too large", func(n *Node) { n.Settings = append(n.Settings, Setting{"z", strings.Repeat("x", MaxUserData)}) }, "limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := managedNode()
			tt.edit(&n)
			if _, err := Render(n); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Render() = %v, want an error with %q", err, tt.want)
			}
		})
	}
}

func TestParseRefuses(t *testing.T) {
	ud, _ := Render(managedNode())
	tests := map[string]string{
		"not cloud-config": "#!/bin/sh\necho hi\n",
		"unknown key":      "#cloud-config\npackages: [curl]\nwrite_files: []\n",
		"no artifact":      "#cloud-config\nwrite_files:\n  - path: /etc/aerolith/agent.yaml\n    content: x\n",
		"duplicate path":   string(ud) + "", // replaced below
	}
	tests["duplicate path"] = strings.Replace(string(ud), "path: "+UnitPath, "path: "+ConfigPath, 1)
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse([]byte(in)); err == nil {
				t.Fatalf("Parse(%q) = nil error", in)
			}
		})
	}
}

// FuzzParse: Parse never panics, and whatever it accepts names an artifact
// with a valid digest and a configuration file.
func FuzzParse(f *testing.F) {
	ud, _ := Render(managedNode())
	f.Add(ud)
	min, _ := Render(Node{Cluster: "c", NodeID: "n", AgentURL: "http://h/a", AgentSHA256: sha})
	f.Add(min)
	f.Add([]byte("#cloud-config\nwrite_files: [{path: /etc/aerolith/artifact.env, content: \"AEROLITH_AGENT_URL=x\\n\"}]\n"))
	f.Add([]byte("#cloud-config\n{{{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			return
		}
		if p.AgentURL == "" || !sha256RE.MatchString(p.AgentSHA256) {
			t.Fatalf("Parse accepted %q with artifact %q %q", data, p.AgentURL, p.AgentSHA256)
		}
		if _, ok := p.Files[ConfigPath]; !ok {
			t.Fatalf("Parse accepted %q without %s", data, ConfigPath)
		}
	})
}
