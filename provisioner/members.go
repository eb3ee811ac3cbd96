package provisioner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aerolithdb/aerolith/agent/client"
)

// AgentMembers removes nodes through the cluster's admin API: the leader
// takes the node out of the raft configuration (handing leadership over
// first when the node leads), and Remove returns once the cluster reports
// it gone.
type AgentMembers struct {
	// Client reaches the cluster with its admin key; its endpoints should
	// include nodes that stay.
	Client *client.Client
	// Poll is how often membership is checked; default 200ms.
	Poll time.Duration
}

var _ Members = AgentMembers{}

// Remove implements Members.
func (m AgentMembers) Remove(ctx context.Context, nodeID string) error {
	if m.Client == nil {
		return errors.New("no cluster client")
	}
	if err := m.Client.Remove(ctx, nodeID); err != nil {
		return err
	}
	poll := m.Poll
	if poll <= 0 {
		poll = 200 * time.Millisecond
	}
	for {
		st, err := m.Client.Cluster(ctx)
		if err == nil && !slices.ContainsFunc(st.Members, func(mb client.Member) bool { return mb.ID == nodeID }) && st.LeaderID != "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s to leave the membership: %w", nodeID, ctx.Err())
		case <-time.After(poll):
		}
	}
}
