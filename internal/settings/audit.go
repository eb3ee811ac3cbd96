package settings

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/aerolithdb/aerolith/internal/audit"
)

// AuditOff is the audit-log value that disables the audit log.
const AuditOff = "off"

// AuditPath returns the audit log file of a daemon whose audit-log option
// is auditLog: "" when the log is off, the default file under dataDir
// when the option is empty.
func AuditPath(dataDir, auditLog string) string {
	switch auditLog {
	case AuditOff:
		return ""
	case "":
		return filepath.Join(dataDir, "audit", "audit.jsonl")
	}
	return auditLog
}

// CheckAudit checks the audit-log and audit-hmac-key-file options shared by
// the agent and billing: a key file needs the log on, and must hold a key
// of at least audit.MinHMACKeyBytes. off is the value that disables the log.
func CheckAudit(path, off, keyFile string) error {
	if strings.ContainsFunc(path, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return errors.New("audit-log: must not contain control characters")
	}
	if keyFile == "" {
		return nil
	}
	if path == off {
		return fmt.Errorf("audit-hmac-key-file: set while audit-log is %q; drop it or turn the audit log on", off)
	}
	if _, err := audit.ReadKeyFile(keyFile); err != nil {
		return fmt.Errorf("audit-hmac-key-file: %v", err)
	}
	return nil
}
