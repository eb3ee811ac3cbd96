package audit

import (
	"context"
	"fmt"
	"log/slog"
)

// OpenFile opens the audit log at path for a daemon configured with
// --audit-log and --audit-hmac-key-file (empty: plain SHA-256 chaining):
// it reads the HMAC key, builds the Writer with secrets to redact and
// opens it. Errors name the option at fault, never the key.
func OpenFile(ctx context.Context, path, hmacKeyFile string, secrets []string, log *slog.Logger) (*Writer, error) {
	cfg := Config{Path: path, Secrets: secrets, Logger: log}
	if hmacKeyFile != "" {
		key, err := ReadKeyFile(hmacKeyFile)
		if err != nil {
			return nil, fmt.Errorf("audit-hmac-key-file: %w", err)
		}
		cfg.HMACKey = key
	}
	w, err := New(cfg)
	if err != nil {
		return nil, fmt.Errorf("audit-log: %w", err)
	}
	if err := w.Open(ctx); err != nil {
		return nil, fmt.Errorf("audit-log: %w", err)
	}
	return w, nil
}
