package cloudsim

import (
	"context"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/aerolithdb/aerolith/provisioner/local"
)

// AgentBooter boots instances whose user data cloudinit.Render wrote, the
// way cloud-init and systemd would on the VM (local.BootSpec, shared with
// the local driver): it writes the files, fetches the agent binary from
// its URL, refuses it unless its SHA-256 matches, and runs `aerolith agent
// --config` under a supervisor that restarts it (the unit's
// Restart=always). The instance's private address replaces the listen and
// advertised hosts, and the data directory is the instance's own, since
// every "VM" shares this machine.
type AgentBooter struct {
	// Dir holds one directory per instance (its files, data and log).
	Dir string
	// Client downloads agents; default http.DefaultClient.
	Client *http.Client
	// Supervisor runs the agents; New makes one.
	sup         *local.Supervisor
	fetcherOnce sync.Once
	fetcher     *local.Fetcher

	mu    sync.Mutex
	names []string // every instance booted, in order
}

// NewAgentBooter returns a booter keeping instances under dir.
func NewAgentBooter(dir string) *AgentBooter {
	return &AgentBooter{Dir: dir, sup: local.New(local.Config{StopTimeout: 10 * time.Second})}
}

// ErrDigestMismatch is a downloaded agent whose SHA-256 differs from the
// user data's: it is never run.
var ErrDigestMismatch = local.ErrDigestMismatch

// Boot implements Booter.
func (b *AgentBooter) Boot(ctx context.Context, req BootRequest) (Process, error) {
	b.fetcherOnce.Do(func() { b.fetcher = &local.Fetcher{Dir: filepath.Join(b.Dir, "bin"), Client: b.Client} })
	spec, err := local.BootSpec(ctx, b.fetcher, local.BootRequest{
		Name: req.InstanceID, Dir: filepath.Join(b.Dir, req.InstanceID), PrivateIP: req.PrivateIP, UserData: req.UserData,
	})
	if err != nil {
		return nil, err
	}
	if err := b.sup.Start(spec); err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.names = append(b.names, req.InstanceID)
	b.mu.Unlock()
	return agentProc{b: b, name: req.InstanceID}, nil
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
