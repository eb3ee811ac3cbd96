// Command aerolith is the one Aerolith binary: the node agent daemon
// (`aerolith agent`), the local quickstart (`aerolith up`) and the CLI verbs
// that talk to a running agent.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := NewMain().Run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "aerolith:", err)
		os.Exit(exitCode(err))
	}
}
