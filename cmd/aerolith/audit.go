package main

import (
	"bytes"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/aerolithdb/aerolith/internal/audit"
)

// newAuditCommand builds `aerolith audit`: offline checks of audit logs.
func newAuditCommand(m *Main) *cobra.Command {
	cmd := groupCommand("audit", "Check audit logs")
	var keyFile string
	var anchors []string
	verify := &cobra.Command{
		Use:   "verify FILE...",
		Short: "Verify an audit log's hash chain across its files, oldest first",
		Long: `Verify checks every line of the given audit log files as one chain: each
record's hash, sequence numbers without gaps or repeats, and each record's
link to the line before it, across rotated files. Give the files oldest
first; a shell glob such as audit.*jsonl sorts them so.

It prints a summary and exits 0 when the chain is intact, or names the file,
line and kind of the first problem (edited, removed, reordered, inserted,
chain, truncated, start, malformed) and exits 1.

A keyed log needs --hmac-key-file. --anchor SEQ:HASH checks a link recorded
elsewhere (the last link the summary prints): it catches records cut off the
end, which the chain alone cannot.`,
		Args: argsBetween(1, 1<<20, "FILE..."),
		RunE: func(cmd *cobra.Command, files []string) error {
			opts := audit.VerifyOptions{}
			if keyFile != "" {
				key, err := readKeyFile(keyFile)
				if err != nil {
					return usageError{err}
				}
				opts.HMACKey = key
			}
			for _, a := range anchors {
				l, err := audit.ParseLink(a)
				if err != nil {
					return usageError{fmt.Errorf("--anchor: %w", err)}
				}
				opts.Anchors = append(opts.Anchors, l)
			}
			return verifyAuditFiles(m, files, opts)
		},
	}
	verify.Flags().StringVar(&keyFile, "hmac-key-file", "", "file holding the log's HMAC key (trailing white space ignored)")
	verify.Flags().StringArrayVar(&anchors, "anchor", nil, "a link SEQ:HASH recorded elsewhere that the log must contain (repeatable)")
	cmd.AddCommand(verify)
	return cmd
}

// readKeyFile reads an HMAC key: the file's bytes without trailing white
// space. The key itself never appears in an error.
func readKeyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--hmac-key-file: %w", err)
	}
	b = bytes.TrimRight(b, " \t\r\n")
	if len(b) == 0 {
		return nil, fmt.Errorf("--hmac-key-file: %s is empty", path)
	}
	return b, nil
}

func verifyAuditFiles(m *Main, files []string, opts audit.VerifyOptions) error {
	var first, last audit.Report
	records, recovered, anchored := 0, 0, 0
	for i, path := range files {
		rep, err := verifyAuditFile(path, opts)
		if err != nil {
			return err
		}
		if rep.Records == 0 {
			return fmt.Errorf("%s: no records", path)
		}
		fmt.Fprintf(m.Stdout, "%s: %d records, seq %d-%d\n", path, rep.Records, rep.First.Seq, rep.Last.Seq)
		if i == 0 {
			first = rep
		}
		last = rep
		records += rep.Records
		recovered += rep.Recovered
		anchored += rep.Anchored
		link := rep.Last
		opts.After = &link
	}
	for _, a := range opts.Anchors {
		if a.Seq > last.Last.Seq {
			return fmt.Errorf("%s: truncated: anchor seq %d is past the last record (seq %d): records were cut off the end", files[len(files)-1], a.Seq, last.Last.Seq)
		}
	}
	fmt.Fprintf(m.Stdout, "%d records, chain intact, first seq %d at %s, last seq %d at %s\n", records,
		first.First.Seq, first.FirstTime.Format(time.RFC3339Nano), last.Last.Seq, last.LastTime.Format(time.RFC3339Nano))
	fmt.Fprintf(m.Stdout, "last link: %s\n", last.Last)
	if first.ContinuesFrom != "" {
		fmt.Fprintf(m.Stdout, "note: %s continues %s, which was not given: records before seq %d were not checked\n", files[0], first.ContinuesFrom, first.First.Seq)
	}
	if recovered > 0 {
		fmt.Fprintf(m.Stdout, "note: %d torn line(s) repaired after crashes (audit.recovered records)\n", recovered)
	}
	if len(opts.Anchors) > 0 {
		fmt.Fprintf(m.Stdout, "anchors matched: %d of %d\n", anchored, len(opts.Anchors))
	}
	return nil
}

func verifyAuditFile(path string, opts audit.VerifyOptions) (audit.Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return audit.Report{}, err
	}
	defer f.Close()
	rep, err := audit.Verify(f, opts)
	if err != nil {
		return rep, fmt.Errorf("%s: %w", path, err)
	}
	return rep, nil
}
