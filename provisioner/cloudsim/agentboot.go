package cloudsim

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aerolithdb/aerolith/provisioner/cloudinit"
	"github.com/aerolithdb/aerolith/provisioner/local"
)

// AgentBooter boots instances whose user data cloudinit.Render wrote, the
// way cloud-init and systemd would on the VM: it writes the files, fetches
// the agent binary from its URL, refuses it unless its SHA-256 matches,
// and runs `aerolith agent --config` under a supervisor that restarts it
// (the unit's Restart=always). The instance's private address replaces
// the listen and advertised hosts, and the data directory is the
// instance's own, since every "VM" shares this machine.
type AgentBooter struct {
	// Dir holds one directory per instance (its files, data and log).
	Dir string
	// Client downloads agents; default http.DefaultClient.
	Client *http.Client
	// Supervisor runs the agents; New makes one.
	sup *local.Supervisor

	mu    sync.Mutex
	cache map[string]string // sha256 → verified binary path
	names []string          // every instance booted, in order
}

// NewAgentBooter returns a booter keeping instances under dir.
func NewAgentBooter(dir string) *AgentBooter {
	return &AgentBooter{Dir: dir, sup: local.New(local.Config{StopTimeout: 10 * time.Second}), cache: map[string]string{}}
}

// ErrDigestMismatch is a downloaded agent whose SHA-256 differs from the
// user data's: it is never run.
var ErrDigestMismatch = errors.New("agent binary sha256 mismatch")

// Boot implements Booter.
func (b *AgentBooter) Boot(ctx context.Context, req BootRequest) (Process, error) {
	ud, err := cloudinit.Parse(req.UserData)
	if err != nil {
		return nil, fmt.Errorf("cloud-init: %w", err)
	}
	dir := filepath.Join(b.Dir, req.InstanceID)
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
		return nil, err
	}
	// The node's /etc/aerolith lives in the instance directory (every
	// "VM" shares this machine's file system): extra files go there and
	// the configuration's paths are rewritten to it.
	etc := filepath.Join(dir, "root", "etc", "aerolith") + "/"
	if err := os.MkdirAll(etc, 0o700); err != nil {
		return nil, err
	}
	for path, content := range ud.Files {
		name, ok := strings.CutPrefix(path, cloudinit.FilesDir)
		if !ok || strings.Contains(name, "/") {
			continue // the unit and install script: their work is done here
		}
		if err := os.WriteFile(etc+name, []byte(content), 0o600); err != nil {
			return nil, err
		}
	}
	cfgPath := filepath.Join(dir, "agent.yaml")
	cfg := strings.ReplaceAll(ud.AgentConfig, cloudinit.FilesDir, etc)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	bin, err := b.fetch(ctx, ud.AgentURL, ud.AgentSHA256)
	if err != nil {
		return nil, err
	}
	name := req.InstanceID
	err = b.sup.Start(local.Spec{
		Name: name, Path: bin, LogPath: filepath.Join(dir, "agent.log"), Dir: dir,
		Args: []string{"agent", "--config", cfgPath,
			"--data-dir", filepath.Join(dir, "data"),
			"--http-addr", req.PrivateIP + ":7070", "--raft-addr", req.PrivateIP + ":7071",
			"--advertise", req.PrivateIP},
		Env:     os.Environ(),
		Restart: local.RestartPolicy{InitialBackoff: 2 * time.Second, MaxBackoff: 2 * time.Second, ResetAfter: 10 * time.Second},
	})
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.names = append(b.names, name)
	b.mu.Unlock()
	return agentProc{b: b, name: name}, nil
}

// Running lists the instances whose agent is still supervised (booted and
// not stopped), with their process ids.
func (b *AgentBooter) Running() map[string]int {
	b.mu.Lock()
	names := append([]string(nil), b.names...)
	b.mu.Unlock()
	out := map[string]int{}
	for _, n := range names {
		if pid, ok := b.sup.PID(n); ok {
			out[n] = pid
		}
	}
	return out
}

// Close stops every agent this booter started.
func (b *AgentBooter) Close(ctx context.Context) error { return b.sup.Stop(ctx) }

type agentProc struct {
	b    *AgentBooter
	name string
}

func (p agentProc) Stop(ctx context.Context) error { return p.b.sup.StopProcess(ctx, p.name) }

// fetch downloads rawURL once per digest and verifies it before it is
// ever made executable.
func (b *AgentBooter) fetch(ctx context.Context, rawURL, want string) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if p, ok := b.cache[want]; ok {
		return p, nil
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", fmt.Errorf("agent url %q: %w", rawURL, err)
	}
	var body io.ReadCloser
	switch u.Scheme {
	case "file":
		f, err := os.Open(u.Path)
		if err != nil {
			return "", fmt.Errorf("fetch agent: %w", err)
		}
		body = f
	case "http", "https":
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
		if err != nil {
			return "", err
		}
		c := b.Client
		if c == nil {
			c = http.DefaultClient
		}
		resp, err := c.Do(req)
		if err != nil {
			return "", fmt.Errorf("fetch agent: %w", err)
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return "", fmt.Errorf("fetch agent %s: %s", rawURL, resp.Status)
		}
		body = resp.Body
	default:
		return "", fmt.Errorf("agent url %q: scheme %q not supported", rawURL, u.Scheme)
	}
	defer body.Close()
	if err := os.MkdirAll(filepath.Join(b.Dir, "bin"), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(filepath.Join(b.Dir, "bin"), ".download-*")
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
	final := filepath.Join(b.Dir, "bin", "aerolith-"+want[:16])
	if err := os.Chmod(tmp.Name(), 0o755); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		return "", err
	}
	b.cache[want] = final
	return final, nil
}
