package apierr

import (
	"errors"
	"fmt"
	"testing"
)

func TestStatus(t *testing.T) {
	tests := []struct {
		code   string
		status int
		public bool
	}{
		{CodeNotFound, 404, true},
		{CodeConflict, 409, true},
		{CodePrecondition, 412, true},
		{CodeInvalid, 400, true},
		{CodeForbidden, 403, true},
		{CodeState, 409, true},
		{CodeTooLarge, 413, true},
		{CodeStorageQuotaExceeded, 507, true},
		{CodeQuotaExceeded, 429, true},
		{CodeInternal, 500, false},
		{"no_such_code", 500, false},
		{"", 500, false},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			status, public := Status(tt.code)
			if status != tt.status || public != tt.public {
				t.Fatalf("Status(%q) = %d, %v; want %d, %v", tt.code, status, public, tt.status, tt.public)
			}
		})
	}
}

func TestIsMatchesSentinelsByCode(t *testing.T) {
	// Two packages' sentinels of one code (document.ErrNotFound and
	// tenancy.ErrNotFound) both match an error of that code.
	notFoundA, notFoundB := Sentinel(CodeNotFound, "not found"), Sentinel(CodeNotFound, "not found")
	conflict := Sentinel(CodeConflict, "conflict")
	err := Errorf(CodeNotFound, "document %q does not exist", "d")
	tests := []struct {
		name   string
		err    error
		target error
		want   bool
	}{
		{"same code", err, notFoundA, true},
		{"same code, other sentinel", err, notFoundB, true},
		{"wrapped", fmt.Errorf("get: %w", err), notFoundA, true},
		{"other code", err, conflict, false},
		{"non-sentinel target", err, Errorf(CodeNotFound, "x"), false},
		{"sentinel itself", notFoundA, notFoundB, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := errors.Is(tt.err, tt.target); got != tt.want {
				t.Fatalf("errors.Is(%v, %v) = %v, want %v", tt.err, tt.target, got, tt.want)
			}
		})
	}
	if err.Error() != `document "d" does not exist` {
		t.Fatalf("Error() = %q", err.Error())
	}
}
