package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/aerolithdb/aerolith/internal/atomicfile"
	"github.com/aerolithdb/aerolith/provisioner"
)

// Stopping and starting an instance, as EC2's StopInstances and
// StartInstances do with a VM: a stopped instance keeps its directory —
// the agent's data, its node id, its certificates — and a start boots it
// again from its user data, which ModifyUserData may change while it is
// stopped (EC2's ModifyInstanceAttribute). `aerolith up` stops its
// agents on Ctrl-C this way and starts the same instances on its next run.

// ErrTerminated is an operation on a terminated instance: it has no disk
// left to start from.
var ErrTerminated = errors.New("instance is terminated")

// ErrUnknownInstance is an operation on an instance the cluster never had.
var ErrUnknownInstance = errors.New("no such instance")

// entry returns instance id of st, or ErrUnknownInstance.
func (st *driverState) entry(cluster, id string) (*instanceEntry, error) {
	if st != nil {
		for _, e := range st.Instances {
			if e.ID == id {
				return e, nil
			}
		}
	}
	return nil, fmt.Errorf("instance %s of %s: %w", id, cluster, ErrUnknownInstance)
}

// Stop stops the instance's process (SIGTERM: it stops its agent; SIGKILL
// to its process group after StopTimeout) and keeps its directory.
// Instances stop in parallel: Stop waits for the process without holding
// the driver's lock. The
// instance stays stopped — EnsureNetwork does not restart it, Launch with
// its token returns it stopped — until Start. Stopping a stopped instance
// succeeds; a terminated one is ErrTerminated.
func (d *Driver) Stop(ctx context.Context, spec *provisioner.ClusterSpec, inst provisioner.Instance) error {
	d.mu.Lock()
	st, err := d.load(spec.Name)
	if err != nil {
		d.mu.Unlock()
		return err
	}
	e, err := st.entry(spec.Name, inst.ID)
	if err != nil {
		d.mu.Unlock()
		return err
	}
	if e.State == "terminated" {
		d.mu.Unlock()
		return fmt.Errorf("stop instance %s: %w", e.ID, ErrTerminated)
	}
	// Recorded first: a process that exits from here on was stopped, not
	// crashed, whatever happens to this command.
	e.State, e.Reason, e.PID = "stopped", "stopped", 0
	err = d.save(spec.Name, st)
	d.mu.Unlock()
	if err != nil {
		return err
	}
	// Waited for without the lock, so that the instances of a cluster
	// stop together.
	if err := d.stop(ctx, e.Dir); err != nil {
		return fmt.Errorf("stop instance %s: %w", e.ID, err)
	}
	return nil
}

// Start boots a stopped instance again, with the same directory and so
// the same node (data, node id), from its user data and the driver's
// current placement for its node; it waits until the instance process
// has booted, as Launch does. Starting a running instance returns it; a
// terminated one is ErrTerminated.
func (d *Driver) Start(ctx context.Context, spec *provisioner.ClusterSpec, inst provisioner.Instance) (provisioner.Instance, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	st, err := d.load(spec.Name)
	if err != nil {
		return provisioner.Instance{}, err
	}
	e, err := st.entry(spec.Name, inst.ID)
	if err != nil {
		return provisioner.Instance{}, err
	}
	if e.State == "terminated" {
		return provisioner.Instance{}, fmt.Errorf("start instance %s: %w", e.ID, ErrTerminated)
	}
	if pid, _ := instancePID(e.Dir); pid > 0 {
		if pid, err = d.waitBooted(ctx, e.Dir, pid, nil); err != nil {
			return provisioner.Instance{}, fmt.Errorf("instance %s of %s: %w", e.ID, e.NodeID, err)
		}
		return d.markRunning(spec.Name, st, e, pid)
	}
	if !bootable(e.Dir) {
		return provisioner.Instance{}, fmt.Errorf("start instance %s: its launch was interrupted before it was written; terminate it and launch again", e.ID)
	}
	if err := d.writeMeta(spec.Name, e); err != nil {
		return provisioner.Instance{}, err
	}
	e.Reason = ""
	pid, err := d.start(ctx, e.Dir)
	if err != nil {
		return provisioner.Instance{}, fmt.Errorf("instance %s of %s: %w", e.ID, e.NodeID, err)
	}
	return d.markRunning(spec.Name, st, e, pid)
}

// ModifyUserData replaces the user data a stopped instance boots from on
// its next Start. A running instance is refused with ErrInstanceRunning
// (EC2 changes user data only while an instance is stopped), a
// terminated one with ErrTerminated.
func (d *Driver) ModifyUserData(_ context.Context, spec *provisioner.ClusterSpec, inst provisioner.Instance, userData []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	st, err := d.load(spec.Name)
	if err != nil {
		return err
	}
	e, err := st.entry(spec.Name, inst.ID)
	if err != nil {
		return err
	}
	switch {
	case e.State == "terminated":
		return fmt.Errorf("modify the user data of %s: %w", e.ID, ErrTerminated)
	case alive(e.Dir):
		return fmt.Errorf("modify the user data of %s: %w; stop it first", e.ID, ErrInstanceRunning)
	case !bootable(e.Dir):
		return fmt.Errorf("modify the user data of %s: its launch was interrupted before it was written", e.ID)
	}
	return atomicfile.Write(filepath.Join(e.Dir, instanceUserData), userData, 0o600)
}

// PruneAgentBinaries removes the cluster's cached agent binaries but the
// one of digest keep, once none of its instances runs (each binary is the
// size of the agent, and every new build adds one): a command that
// restarts the whole cluster with a new binary (aerolith up) calls it
// before the start.
func (d *Driver) PruneAgentBinaries(cluster, keep string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	st, err := d.load(cluster)
	if err != nil || st == nil {
		return err
	}
	for _, e := range st.Instances {
		if alive(e.Dir) {
			return fmt.Errorf("prune the agent binaries of %s: instance %s (%s) runs", cluster, e.ID, e.NodeID)
		}
	}
	binDir := filepath.Join(d.ClusterDir(cluster), "bin")
	ents, err := os.ReadDir(binDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	kept := binaryName(keep)
	for _, ent := range ents {
		if ent.Name() != kept {
			if err := os.Remove(filepath.Join(binDir, ent.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}
