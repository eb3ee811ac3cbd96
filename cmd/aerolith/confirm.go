package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// errNotConfirmed is the error of a destructive command the user did not
// confirm.
var errNotConfirmed = errors.New("not confirmed")

// stdinIsTerminal reports whether m's standard input is a terminal, where
// a person can answer a confirmation prompt.
func (m *Main) stdinIsTerminal() bool {
	if m.terminal != nil {
		return m.terminal()
	}
	f, ok := m.Stdin.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	if err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	// /dev/null is a character device too: the standard input of cron,
	// CI and `< /dev/null`, where nobody can answer.
	null, err := os.Stat(os.DevNull)
	return err != nil || !os.SameFile(st, null)
}

// confirm guards a destructive action: with yes (--yes) it goes ahead; on
// a terminal it prints what will happen and wants want typed back; without
// a terminal (a script, a pipe) it refuses and names --yes, so nothing is
// destroyed by a command that could not ask.
func (m *Main) confirm(yes bool, action, want string) error {
	if yes {
		return nil
	}
	if !m.stdinIsTerminal() {
		return usageError{fmt.Errorf("%s needs confirmation and standard input is not a terminal: pass --yes to go ahead", action)}
	}
	fmt.Fprintf(m.Stderr, "%s. This cannot be undone.\nType %q to confirm: ", capitalize(action), want)
	line, err := bufio.NewReader(m.Stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read confirmation: %w", err)
	}
	if got := strings.TrimSpace(line); got != want {
		return fmt.Errorf("%w: typed %q, not %q; nothing was changed", errNotConfirmed, got, want)
	}
	return nil
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
