// Package cloudinit renders the user data that boots an Aerolith node: a
// #cloud-config document that writes the agent's configuration file, a
// systemd unit and an install script, then downloads the agent binary,
// checks its SHA-256 before it ever runs, and starts it.
//
// Every path that creates nodes uses this one renderer: the provisioner's
// cloud drivers, the Terraform data source aerolith_cloud_init and the
// Pulumi stacks, so a node boots the same way whichever tool made it. Parse
// reads a rendered document back (the cloud simulator boots instances from
// it, as cloud-init would).
//
// The user data holds the cluster's enrollment token and admin key (a
// cloud's instance metadata is readable by the instance's own processes
// and by callers allowed to describe it); it never holds a private key:
// a node creates its TLS key at boot.
package cloudinit

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Paths on the node. The agent runs as its own system user; its
// configuration is readable by root and that user only.
const (
	ConfigPath  = "/etc/aerolith/agent.yaml"
	ArtifactEnv = "/etc/aerolith/artifact.env"
	UnitPath    = "/etc/systemd/system/aerolith-agent.service"
	InstallPath = "/usr/local/lib/aerolith/install.sh"
	BinaryPath  = "/usr/local/bin/aerolith"
	DataDir     = "/var/lib/aerolith"
)

// MaxUserData is the largest user data the smallest limit among the
// clouds accepts (EC2: 16 KiB before base64).
const MaxUserData = 16 << 10

// Node is what one node's user data says.
type Node struct {
	// Cluster and NodeID name the node (NodeID is the agent's --node-id).
	Cluster string
	NodeID  string
	// AgentURL and AgentSHA256 locate and pin the agent binary.
	AgentURL    string
	AgentSHA256 string
	// Settings are the agent's configuration, in the order written: keys
	// are the agent's option names (`aerolith agent --help`), values are
	// strings, or a list for list options such as join. node-id and
	// data-dir are set by the renderer.
	Settings []Setting
	// Files are further files the configuration refers to (a CA bundle),
	// written under FilesDir before the agent starts.
	Files []File
}

// FilesDir is where extra files go; the agent's settings name them by
// their full path.
const FilesDir = "/etc/aerolith/"

// File is one extra file of a node: public material only (a CA bundle),
// never a private key.
type File struct {
	Path    string
	Content string
}

// Setting is one key of the agent's YAML configuration.
type Setting struct {
	Key string
	// Value is a string, an int, a bool or a []string.
	Value any
}

var (
	idRE       = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)
	keyRE      = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
	sha256RE   = regexp.MustCompile(`^[0-9a-f]{64}$`)
	fileNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
)

// reserved are the keys the renderer writes itself.
var reserved = []string{"node-id", "data-dir"}

// Render returns the #cloud-config user data of n. The output is
// deterministic: the same Node renders the same bytes.
func Render(n Node) ([]byte, error) {
	if err := n.validate(); err != nil {
		return nil, err
	}
	cfg, err := n.agentYAML()
	if err != nil {
		return nil, err
	}
	doc := cloudConfig{
		WriteFiles: []writeFile{
			{Path: ArtifactEnv, Permissions: "0644", Owner: "root:root", Content: artifactEnv(n)},
			{Path: ConfigPath, Permissions: "0640", Owner: "root:root", Content: cfg},
			{Path: UnitPath, Permissions: "0644", Owner: "root:root", Content: unit},
			{Path: InstallPath, Permissions: "0755", Owner: "root:root", Content: installScript},
		},
		RunCmd: [][]string{
			{InstallPath},
			{"systemctl", "daemon-reload"},
			{"systemctl", "enable", "--now", "aerolith-agent.service"},
		},
	}
	for _, f := range n.Files {
		doc.WriteFiles = append(doc.WriteFiles, writeFile{Path: f.Path, Permissions: "0644", Owner: "root:root", Content: f.Content})
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "#cloud-config\n# Aerolith node %s of cluster %s.\n", n.NodeID, n.Cluster)
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("cloudinit: encode: %w", err)
	}
	if b.Len() > MaxUserData {
		return nil, fmt.Errorf("cloudinit: user data is %d bytes, above the %d-byte limit of EC2 (the smallest among the clouds)", b.Len(), MaxUserData)
	}
	return b.Bytes(), nil
}

func (n Node) validate() error {
	if !idRE.MatchString(n.Cluster) {
		return fmt.Errorf("cloudinit: cluster %q: want 1-63 letters, digits, '.', '_' or '-'", n.Cluster)
	}
	if !idRE.MatchString(n.NodeID) {
		return fmt.Errorf("cloudinit: node id %q: want 1-63 letters, digits, '.', '_' or '-'", n.NodeID)
	}
	if n.AgentURL == "" || strings.ContainsAny(n.AgentURL, "\"'`$\\ \n\r\t") {
		return fmt.Errorf("cloudinit: agent url %q: required, without quotes, spaces, '$' or backslashes", n.AgentURL)
	}
	if !sha256RE.MatchString(n.AgentSHA256) {
		return fmt.Errorf("cloudinit: agent sha256 %q: want 64 lowercase hex digits", n.AgentSHA256)
	}
	fixed := []string{ConfigPath, ArtifactEnv}
	for _, f := range n.Files {
		name, ok := strings.CutPrefix(f.Path, FilesDir)
		if !ok || !fileNameRE.MatchString(name) || slices.Contains(fixed, f.Path) {
			return fmt.Errorf("cloudinit: file %q: want %s<name> (letters, digits, '.', '_', '-'), not one the renderer writes", f.Path, FilesDir)
		}
		if strings.Contains(f.Content, "PRIVATE KEY") {
			return fmt.Errorf("cloudinit: file %q holds a private key; keys are made on the node and never travel in user data", f.Path)
		}
		fixed = append(fixed, f.Path)
	}
	seen := map[string]bool{}
	for _, s := range n.Settings {
		if !keyRE.MatchString(s.Key) {
			return fmt.Errorf("cloudinit: setting %q: not an agent option name", s.Key)
		}
		if slices.Contains(reserved, s.Key) {
			return fmt.Errorf("cloudinit: setting %q is written by the renderer; remove it", s.Key)
		}
		if seen[s.Key] {
			return fmt.Errorf("cloudinit: setting %q given twice", s.Key)
		}
		seen[s.Key] = true
		switch v := s.Value.(type) {
		case string, int, bool:
		case []string:
			for _, e := range v {
				if strings.ContainsAny(e, ", \n") {
					return fmt.Errorf("cloudinit: setting %q: element %q contains a comma, space or newline", s.Key, e)
				}
			}
		default:
			return fmt.Errorf("cloudinit: setting %q: value of type %T; want string, int, bool or []string", s.Key, s.Value)
		}
	}
	return nil
}

// agentYAML is the agent's configuration file: node-id and data-dir, then
// the settings in order.
func (n Node) agentYAML() (string, error) {
	m := yaml.Node{Kind: yaml.MappingNode}
	add := func(k string, v any) error {
		var vn yaml.Node
		if err := vn.Encode(v); err != nil {
			return err
		}
		m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: k}, &vn)
		return nil
	}
	if err := add("node-id", n.NodeID); err != nil {
		return "", err
	}
	if err := add("data-dir", DataDir); err != nil {
		return "", err
	}
	for _, s := range n.Settings {
		if err := add(s.Key, s.Value); err != nil {
			return "", fmt.Errorf("cloudinit: setting %q: %w", s.Key, err)
		}
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&m); err != nil {
		return "", fmt.Errorf("cloudinit: encode agent config: %w", err)
	}
	return b.String(), nil
}

func artifactEnv(n Node) string {
	return "AEROLITH_AGENT_URL=" + n.AgentURL + "\nAEROLITH_AGENT_SHA256=" + n.AgentSHA256 + "\n"
}

// installScript downloads the agent to a temporary name, checks its digest
// and only then moves it into place: a binary that does not match is never
// executed.
const installScript = `#!/bin/sh
set -eu
. /etc/aerolith/artifact.env
id -u aerolith >/dev/null 2>&1 || useradd --system --home-dir /var/lib/aerolith --shell /usr/sbin/nologin aerolith
install -d -o aerolith -g aerolith -m 0750 /var/lib/aerolith
chgrp aerolith /etc/aerolith/agent.yaml
tmp=$(mktemp /usr/local/bin/.aerolith.XXXXXX)
trap 'rm -f "$tmp"' EXIT
curl --fail --silent --show-error --location --retry 10 --retry-connrefused --output "$tmp" "$AEROLITH_AGENT_URL"
echo "$AEROLITH_AGENT_SHA256  $tmp" | sha256sum --check --strict --quiet -
chmod 0755 "$tmp"
mv "$tmp" /usr/local/bin/aerolith
trap - EXIT
# Peers and clients reach the node at its first private address (the agent
# reads AEROLITH_ADVERTISE; flags and the file's own advertise win).
echo "AEROLITH_ADVERTISE=$(hostname -I | cut -d' ' -f1)" > /etc/aerolith/advertise.env
`

const unit = `[Unit]
Description=Aerolith node agent
Wants=network-online.target
After=network-online.target

[Service]
User=aerolith
Group=aerolith
EnvironmentFile=-/etc/aerolith/advertise.env
ExecStart=/usr/local/bin/aerolith agent --config /etc/aerolith/agent.yaml
Restart=always
RestartSec=2
LimitNOFILE=65536
TimeoutStopSec=60

[Install]
WantedBy=multi-user.target
`

type cloudConfig struct {
	WriteFiles []writeFile `yaml:"write_files"`
	RunCmd     [][]string  `yaml:"runcmd"`
}

type writeFile struct {
	Path        string `yaml:"path"`
	Permissions string `yaml:"permissions"`
	Owner       string `yaml:"owner"`
	Content     string `yaml:"content"`
}

// Parsed is what Parse reads from user data: the files it writes and the
// agent artifact.
type Parsed struct {
	// Files maps each written path to its content.
	Files map[string]string
	// AgentURL and AgentSHA256 come from the artifact file.
	AgentURL    string
	AgentSHA256 string
	// AgentConfig is the agent configuration file's content.
	AgentConfig string
}

// ErrNotAerolith marks user data that is not an Aerolith node's.
var ErrNotAerolith = errors.New("cloudinit: not an aerolith node's user data")

// Parse reads user data rendered by Render (or by a template that follows
// the same layout). It is strict: unknown top-level keys, a missing
// artifact or configuration file, or duplicated paths are errors.
func Parse(data []byte) (*Parsed, error) {
	if !bytes.HasPrefix(data, []byte("#cloud-config\n")) {
		return nil, fmt.Errorf("%w: the first line is not #cloud-config", ErrNotAerolith)
	}
	if len(data) > MaxUserData {
		return nil, fmt.Errorf("cloudinit: user data is %d bytes, above %d", len(data), MaxUserData)
	}
	var doc cloudConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("cloudinit: %w", err)
	}
	p := &Parsed{Files: map[string]string{}}
	for _, f := range doc.WriteFiles {
		if _, dup := p.Files[f.Path]; dup {
			return nil, fmt.Errorf("cloudinit: %s written twice", f.Path)
		}
		p.Files[f.Path] = f.Content
	}
	env, ok := p.Files[ArtifactEnv]
	if !ok {
		return nil, fmt.Errorf("%w: no %s", ErrNotAerolith, ArtifactEnv)
	}
	if p.AgentConfig, ok = p.Files[ConfigPath]; !ok {
		return nil, fmt.Errorf("%w: no %s", ErrNotAerolith, ConfigPath)
	}
	for _, line := range strings.Split(env, "\n") {
		k, v, _ := strings.Cut(line, "=")
		switch k {
		case "AEROLITH_AGENT_URL":
			p.AgentURL = v
		case "AEROLITH_AGENT_SHA256":
			p.AgentSHA256 = v
		}
	}
	if p.AgentURL == "" || !sha256RE.MatchString(p.AgentSHA256) {
		return nil, fmt.Errorf("cloudinit: %s lacks AEROLITH_AGENT_URL or a valid AEROLITH_AGENT_SHA256", ArtifactEnv)
	}
	return p, nil
}
