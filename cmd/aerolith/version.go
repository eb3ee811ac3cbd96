package main

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/aerolithdb/aerolith/internal/release"
)

// newVersionCommand builds `aerolith version`: the release, the source
// revision and the image this binary is published as.
func newVersionCommand(m *Main) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, source revision and image of this binary",
		Args:  argsBetween(0, 0, "(none)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(m.Stdout, "aerolith %s\nrevision: %s\ngo: %s %s/%s\nimage: %s\n",
				release.Version(), release.Revision(), runtime.Version(), runtime.GOOS, runtime.GOARCH,
				release.Image(release.AgentImageName))
			return err
		},
	}
}
