package settings

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckAudit(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	short := filepath.Join(dir, "short")
	if err := os.WriteFile(good, []byte("0123456789abcdef-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(short, []byte("tiny\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, keyFile, want string
	}{
		{"default", "", "", ""},
		{"path and key", "/var/log/a.jsonl", good, ""},
		{"off", "off", "", ""},
		{"key with log off", "off", good, "audit-hmac-key-file: set while audit-log is \"off\""},
		{"short key", "", short, "audit-hmac-key-file: " + short + " holds 4 bytes"},
		{"missing key", "", filepath.Join(dir, "none"), "audit-hmac-key-file: open"},
		{"control character", "a\nb", "", "audit-log: must not contain control characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckAudit(tt.path, "off", tt.keyFile)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("CheckAudit = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) || strings.Contains(err.Error(), "tiny") {
				t.Fatalf("CheckAudit = %v, want prefix %q and no key", err, tt.want)
			}
		})
	}
}
