package cloudsim

import (
	"context"
	"time"
)

// Booter runs what an instance's user data says, as cloud-init on the VM
// would. The simulator calls Boot once the instance is running, and Stop
// on the Process when it is stopped or terminated.
type Booter interface {
	Boot(ctx context.Context, b BootRequest) (Process, error)
}

// BootRequest is one instance to boot.
type BootRequest struct {
	InstanceID string
	PrivateIP  string
	UserData   []byte
}

// Process is a booted instance's workload.
type Process interface {
	// Stop ends it (SIGTERM, then SIGKILL after a deadline), as a VM
	// shutting down does.
	Stop(ctx context.Context) error
}

// boot runs the instance's user data once it is running. A boot failure is
// recorded on the instance (as a console log would show it); the instance
// stays running, as a VM whose cloud-init failed does.
func (s *Server) boot(id string) {
	if s.cfg.Boot == nil {
		return
	}
	s.mu.Lock()
	in, ok := s.instances[id]
	if !ok || s.closed || in.willFail || in.State == "terminated" || in.State == "shutting-down" {
		s.mu.Unlock()
		return
	}
	req := BootRequest{InstanceID: in.ID, PrivateIP: in.PrivateIP, UserData: append([]byte(nil), in.UserData...)}
	s.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	proc, err := s.cfg.Boot.Boot(ctx, req)

	s.mu.Lock()
	in, ok = s.instances[id]
	if err != nil {
		s.log.Warn("instance boot failed", "instance", id, "err", err)
		if ok {
			in.bootErr = err.Error()
		}
		s.mu.Unlock()
		return
	}
	if !ok || s.closed || in.State == "terminated" || in.State == "shutting-down" {
		// Terminated while booting: stop what just started.
		s.mu.Unlock()
		proc.Stop(context.Background())
		return
	}
	in.proc = proc
	s.mu.Unlock()
}

// stopLocked detaches the instance's process; the caller stops it outside
// the lock.
func stopLocked(in *Instance) Process {
	p := in.proc
	in.proc = nil
	return p
}
