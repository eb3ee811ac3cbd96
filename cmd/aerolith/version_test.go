package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/aerolithdb/aerolith/internal/release"
)

func TestVersionCommand(t *testing.T) {
	var out bytes.Buffer
	m := &Main{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out}
	if err := m.Run(context.Background(), []string{"version"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"aerolith " + release.Version() + "\n", "image: " + release.Image(release.AgentImageName) + "\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("aerolith version printed %q, want it to contain %q", out.String(), want)
		}
	}
	if err := m.Run(context.Background(), []string{"version", "extra"}); err == nil {
		t.Error("aerolith version extra succeeded, want a usage error")
	}
}
