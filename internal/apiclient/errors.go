package apiclient

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxFallbackMessage bounds the message taken from a body that is not the
// API's error shape (a proxy's HTML page, say).
const maxFallbackMessage = 256

// Error is a non-2xx answer. Status is the HTTP status; Code and Message
// come from the {"error":{"code","message"}} body (or are derived from the
// status when the body has another shape, e.g. a proxy's).
type Error struct {
	Status  int
	Code    string
	Message string
	// RetryAfter is the server's Retry-After hint (zero when absent).
	RetryAfter time.Duration
}

// Error returns the server's message followed by the status and code.
func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = strings.ToLower(http.StatusText(e.Status))
	}
	return fmt.Sprintf("%s (%d %s)", msg, e.Status, e.Code)
}

// HasStatus reports whether err is (or wraps) an *Error with the status.
func HasStatus(err error, status int) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == status
}

// StatusCode derives an error code from a status's text: 404 gives
// "not_found", 500 "internal_server_error".
func StatusCode(status int) string {
	return strings.ReplaceAll(strings.ToLower(http.StatusText(status)), " ", "_")
}

// DecodeError builds an *Error from a non-2xx response. defaultCode gives
// the code when the body has none (nil means StatusCode).
func DecodeError(status int, header http.Header, body []byte, defaultCode func(int) string) *Error {
	if defaultCode == nil {
		defaultCode = StatusCode
	}
	e := &Error{Status: status, Code: defaultCode(status)}
	var wire struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &wire); err == nil && wire.Error != nil {
		if wire.Error.Code != "" {
			e.Code = wire.Error.Code
		}
		e.Message = wire.Error.Message
	} else {
		e.Message = strings.TrimSpace(string(body))
		if len(e.Message) > maxFallbackMessage {
			e.Message = e.Message[:maxFallbackMessage] + "..."
		}
	}
	e.RetryAfter = ParseRetryAfter(header.Get("Retry-After"))
	return e
}

// ParseRetryAfter understands the delay-seconds form and the HTTP-date
// form of a Retry-After header; anything else, or a time in the past, is 0.
func ParseRetryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}
