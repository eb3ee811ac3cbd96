package tenancy

import (
	"context"
	"errors"
	"testing"

	"github.com/aerolithdb/aerolith/agent/document"
)

// The API answers with the Message of the *Error in a chain, so wrapf must
// put its prefix there and keep the code (the HTTP layer showed the whole
// "revoke api key: ..." text when tenancy had its own error type).
func TestWrapfKeepsCodeAndWholeMessage(t *testing.T) {
	err := wrapf(notFoundf("api key %s not found", "0123456789abcdef"), "revoke api key")
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("wrapf returned %T, want *Error", err)
	}
	const want = "revoke api key: api key 0123456789abcdef not found"
	if e.Message != want || err.Error() != want {
		t.Fatalf("message = %q, Error() = %q; want %q", e.Message, err.Error(), want)
	}
	if !errors.Is(err, ErrNotFound) || !errors.Is(err, document.ErrNotFound) || errors.Is(err, ErrInvalid) {
		t.Fatalf("errors.Is by code broken for %v", err)
	}

	other := wrapf(context.Canceled, "create api key")
	if !errors.Is(other, context.Canceled) || other.Error() != "create api key: context canceled" {
		t.Fatalf("wrapf(context.Canceled) = %v", other)
	}
	if errors.As(other, &e) {
		t.Fatalf("wrapf invented an *Error: %v", other)
	}
}
