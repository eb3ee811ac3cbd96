package local

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aerolithdb/aerolith/provisioner/cloudinit"
)

// Booting a node from its user data, as cloud-init and systemd do on a
// VM: shared by the cloud simulator (provisioner/cloudsim's AgentBooter)
// and the local driver, so a local node and a simulated cloud instance
// boot the same way.

// ErrDigestMismatch is a downloaded agent whose SHA-256 differs from the
// user data's: it is never run.
var ErrDigestMismatch = errors.New("agent binary sha256 mismatch")

// AgentHTTPPort and AgentRaftPort are the ports a booted node listens on,
// on its own address (every node has one, as every VM does).
const (
	AgentHTTPPort = 7070
	AgentRaftPort = 7071
)

// AgentRestartPolicy is the unit's Restart=always with RestartSec=2: a
// crashed agent comes back after 2 s, and is never given up on.
func AgentRestartPolicy() RestartPolicy {
	return RestartPolicy{InitialBackoff: 2 * time.Second, MaxBackoff: 2 * time.Second, ResetAfter: 10 * time.Second}
}

// Fetcher downloads agent binaries and verifies their SHA-256 before they
// are ever made executable, keeping one verified copy per digest in Dir.
type Fetcher struct {
	// Dir holds the verified binaries.
	Dir string
	// Client downloads http(s) URLs; default http.DefaultClient.
	Client *http.Client

	mu    sync.Mutex
	cache map[string]string // sha256 → verified binary path
}

// Fetch returns the path of the verified binary of rawURL (http, https or
// file) whose SHA-256 must be want.
func (f *Fetcher) Fetch(ctx context.Context, rawURL, want string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p, ok := f.cache[want]; ok {
		return p, nil
	}
	final := filepath.Join(f.Dir, binaryName(want))
	// Another process (an instance of the same cluster) may have verified
	// it already; it is used only if it still hashes to want.
	if got, err := fileSHA256(final); err == nil && got == want {
		f.remember(want, final)
		return final, nil
	}
	body, err := open(ctx, f.Client, rawURL)
	if err != nil {
		return "", err
	}
	defer body.Close()
	if err := os.MkdirAll(f.Dir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(f.Dir, ".download-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(tmp, h), body); err != nil {
		tmp.Close()
		return "", fmt.Errorf("fetch agent: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return "", fmt.Errorf("%w: %s has %s, user data wants %s", ErrDigestMismatch, rawURL, got, want)
	}
	if err := os.Chmod(tmp.Name(), 0o755); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		return "", err
	}
	f.remember(want, final)
	return final, nil
}

// binaryName is the file name of the verified binary of digest sum.
func binaryName(sum string) string { return "aerolith-" + sum[:min(16, len(sum))] }

func (f *Fetcher) remember(sum, path string) {
	if f.cache == nil {
		f.cache = map[string]string{}
	}
	f.cache[sum] = path
}

func open(ctx context.Context, c *http.Client, rawURL string) (io.ReadCloser, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("agent url %q: %w", rawURL, err)
	}
	switch u.Scheme {
	case "file":
		f, err := os.Open(u.Path)
		if err != nil {
			return nil, fmt.Errorf("fetch agent: %w", err)
		}
		return f, nil
	case "http", "https":
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
		if err != nil {
			return nil, err
		}
		if c == nil {
			c = http.DefaultClient
		}
		resp, err := c.Do(req)
		if err != nil {
			return nil, fmt.Errorf("fetch agent: %w", err)
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return nil, fmt.Errorf("fetch agent %s: %s", rawURL, resp.Status)
		}
		return resp.Body, nil
	}
	return nil, fmt.Errorf("agent url %q: scheme %q not supported", rawURL, u.Scheme)
}

// FileSHA256 returns the hex SHA-256 of the file at path.
func FileSHA256(path string) (string, error) { return fileSHA256(path) }

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// BootRequest is one node to boot from its user data.
type BootRequest struct {
	// Name names the process in the supervisor (the instance id).
	Name string
	// Dir is the node's own directory: its configuration, data and log.
	Dir string
	// PrivateIP is the node's address: it replaces the listen and
	// advertised hosts of the configuration.
	PrivateIP string
	UserData  []byte
	// Placement overrides where the node listens and keeps its data
	// (zero fields: PrivateIP's AgentHTTPPort and AgentRaftPort, Dir/data
	// and Dir/agent.log).
	Placement Placement
	// Restart is the agent's restart policy (zero: AgentRestartPolicy).
	Restart RestartPolicy
}

// Placement puts a node at fixed addresses and directories instead of
// the defaults of its instance: `aerolith up` keeps its documented ports
// on 127.0.0.1 and its data layout (<data-dir>/nodeN, <data-dir>/nodeN.log)
// this way. Every field is optional.
type Placement struct {
	// HTTPAddr and RaftAddr are the agent's listen addresses (host:port).
	HTTPAddr string `json:"http_addr,omitempty"`
	RaftAddr string `json:"raft_addr,omitempty"`
	// Advertise is the host the node announces (default: RaftAddr's host,
	// else the instance's private address).
	Advertise string `json:"advertise,omitempty"`
	// DataDir is the agent's data directory; LogPath its log file.
	DataDir string `json:"data_dir,omitempty"`
	LogPath string `json:"log_path,omitempty"`
}

// resolve fills p's empty fields with the defaults of an instance in dir
// on address ip.
func (p Placement) resolve(dir, ip string) Placement {
	if p.HTTPAddr == "" {
		p.HTTPAddr = net.JoinHostPort(ip, strconv.Itoa(AgentHTTPPort))
	}
	if p.RaftAddr == "" {
		p.RaftAddr = net.JoinHostPort(ip, strconv.Itoa(AgentRaftPort))
	}
	if p.Advertise == "" {
		p.Advertise = ip
		if h, _, err := net.SplitHostPort(p.RaftAddr); err == nil && h != "" {
			p.Advertise = h
		}
	}
	if p.DataDir == "" {
		p.DataDir = filepath.Join(dir, "data")
	}
	if p.LogPath == "" {
		p.LogPath = filepath.Join(dir, "agent.log")
	}
	return p
}

// BootSpec does what the user data's install script does — writes the
// agent configuration, fetches the agent and checks its digest — and
// returns the supervised process the unit would run: `aerolith agent
// --config` with the node's own data directory and address.
func BootSpec(ctx context.Context, f *Fetcher, req BootRequest) (Spec, error) {
	ud, err := cloudinit.Parse(req.UserData)
	if err != nil {
		return Spec{}, fmt.Errorf("cloud-init: %w", err)
	}
	pl := req.Placement.resolve(req.Dir, req.PrivateIP)
	if err := os.MkdirAll(pl.DataDir, 0o700); err != nil {
		return Spec{}, err
	}
	// The node's /etc/aerolith lives in its own directory (every node
	// shares this machine's file system): extra files (a CA bundle) go
	// there and the configuration's paths are rewritten to it.
	etc := filepath.Join(req.Dir, "root", "etc", "aerolith") + "/"
	if err := os.MkdirAll(etc, 0o700); err != nil {
		return Spec{}, err
	}
	for path, content := range ud.Files {
		name, ok := strings.CutPrefix(path, cloudinit.FilesDir)
		if !ok || strings.Contains(name, "/") {
			continue // the unit and install script: their work is done here
		}
		if err := os.WriteFile(etc+name, []byte(content), 0o600); err != nil {
			return Spec{}, err
		}
	}
	cfgPath := filepath.Join(req.Dir, "agent.yaml")
	cfg := strings.ReplaceAll(ud.AgentConfig, cloudinit.FilesDir, etc)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return Spec{}, err
	}
	bin, err := f.Fetch(ctx, ud.AgentURL, ud.AgentSHA256)
	if err != nil {
		return Spec{}, err
	}
	restart := req.Restart
	if restart == (RestartPolicy{}) {
		restart = AgentRestartPolicy()
	}
	return Spec{
		Name: req.Name, Path: bin, LogPath: pl.LogPath, Dir: req.Dir,
		Args: []string{"agent", "--config", cfgPath,
			"--data-dir", pl.DataDir,
			"--http-addr", pl.HTTPAddr,
			"--raft-addr", pl.RaftAddr,
			"--advertise", pl.Advertise},
		Env:     os.Environ(),
		Restart: restart,
	}, nil
}
