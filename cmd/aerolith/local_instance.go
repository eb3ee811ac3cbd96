package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/aerolithdb/aerolith/provisioner/deployment"
	"github.com/aerolithdb/aerolith/provisioner/local"
)

func init() { commands = append(commands, newLocalInstanceCommand) }

// localInstanceCommand is the hidden command the local driver starts for
// each node: the "VM" that boots the node's user data and keeps its agent
// running (provisioner/local.RunInstance).
const localInstanceCommand = deployment.LocalInstanceCommand

func newLocalInstanceCommand(m *Main) *cobra.Command {
	return &cobra.Command{
		Use:    localInstanceCommand + " DIR",
		Short:  "Run one node of a local cluster (started by aerolith cluster create --cloud local and aerolith up)",
		Hidden: true,
		Args:   argsBetween(1, 1, "DIR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return local.RunInstance(cmd.Context(), args[0], 30*time.Second, m.Stderr)
		},
	}
}
