package main

import (
	"context"
	"errors"
	"io"
	"os"

	"github.com/spf13/cobra"
)

// Main holds what every command shares: its output streams. Tests build one
// with buffers and call Run.
type Main struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// terminal, when set, says whether Stdin is a terminal (tests of the
	// confirmation prompts); nil means checking Stdin.
	terminal func() bool
}

// NewMain returns a Main wired to the process's standard streams.
func NewMain() *Main {
	return &Main{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
}

// Run parses args and runs the selected command until it returns or ctx ends.
func (m *Main) Run(ctx context.Context, args []string) error {
	root := &cobra.Command{
		Use:           "aerolith",
		Short:         "Aerolith: a replicated document database provisioned as code",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(m.Stdin)
	root.SetOut(m.Stdout)
	root.SetErr(m.Stderr)
	for _, add := range commands {
		root.AddCommand(add(m))
	}
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err != nil {
		return explainError(cmd, err)
	}
	return nil
}

// commands lists the constructors of the top-level commands, one per
// command, each in the file of its name (help lists them sorted by name).
// A new command adds its constructor here.
var commands = []func(*Main) *cobra.Command{
	newAgentCommand,
	newAuditCommand,
	newBatchCommand,
	newBillingCommand,
	newCertCommand,
	newClusterCommand,
	newCollectionCommand,
	newDocCommand,
	newIndexCommand,
	newInvoiceCommand,
	newKeyCommand,
	newMasterKeyCommand,
	newMeterCommand,
	newTenantCommand,
	newUpCommand,
	newUsageCommand,
	newVersionCommand,
	newWalletCommand,
}

// usageError marks an error caused by how the command was called (exit 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func exitCode(err error) int {
	var u usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}
