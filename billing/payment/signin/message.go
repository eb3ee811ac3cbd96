package signin

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrMalformed is wrapped by every error parsing a sign-in message or
// decoding an address or signature.
var ErrMalformed = errors.New("malformed sign-in message")

// maxMessage bounds the sign-in messages parsed.
const maxMessage = 4096

// Message is a Sign-In With Solana message (the text format of the
// wallet-standard's solana:signIn, itself EIP-4361's), or the same text
// with "Tron" in the header for TronLink. Optional fields are empty (or
// zero times) when absent.
type Message struct {
	Chain          Chain
	Domain         string
	Address        string
	Statement      string
	URI            string
	Version        string
	ChainID        string
	Nonce          string
	IssuedAt       time.Time
	ExpirationTime time.Time
	NotBefore      time.Time
	RequestID      string
	Resources      []string
}

const headerSuffix = " wants you to sign in with your %s account:"

// The fields after the statement, in the only order they may appear.
var fieldOrder = []string{"URI", "Version", "Chain ID", "Nonce", "Issued At", "Expiration Time", "Not Before", "Request ID", "Resources"}

// String renders m exactly as the wallet-standard's
// createSignInMessageText does, which is what a wallet signs.
func (m *Message) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s"+headerSuffix+"\n%s", m.Domain, m.Chain.title(), m.Address)
	if m.Statement != "" {
		b.WriteString("\n\n" + m.Statement)
	}
	var fields []string
	add := func(k, v string) {
		if v != "" {
			fields = append(fields, k+": "+v)
		}
	}
	ts := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		if t.Nanosecond()%int(time.Millisecond) != 0 { // keep what a parsed message said
			return t.UTC().Format(time.RFC3339Nano)
		}
		return t.UTC().Format("2006-01-02T15:04:05.000Z")
	}
	add("URI", m.URI)
	add("Version", m.Version)
	add("Chain ID", m.ChainID)
	add("Nonce", m.Nonce)
	add("Issued At", ts(m.IssuedAt))
	add("Expiration Time", ts(m.ExpirationTime))
	add("Not Before", ts(m.NotBefore))
	add("Request ID", m.RequestID)
	if len(m.Resources) > 0 {
		r := "Resources:"
		for _, x := range m.Resources {
			r += "\n- " + x
		}
		fields = append(fields, r)
	}
	if len(fields) > 0 {
		b.WriteString("\n\n" + strings.Join(fields, "\n"))
	}
	return b.String()
}

// ParseMessage parses a sign-in message strictly: the header names the
// chain (Solana or Tron), fields appear at most once and in order, no
// unknown lines, times are RFC 3339. It checks the form only; Verify
// checks the content.
func ParseMessage(s string) (*Message, error) {
	if len(s) > maxMessage {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, maxMessage)
	}
	if strings.Contains(s, "\r") {
		return nil, fmt.Errorf("%w: carriage return", ErrMalformed)
	}
	lines := strings.Split(s, "\n")
	if len(lines) < 2 {
		return nil, fmt.Errorf("%w: want a header line and an address line", ErrMalformed)
	}
	m := &Message{}
	for _, c := range []Chain{Solana, Tron} {
		if d, ok := strings.CutSuffix(lines[0], fmt.Sprintf(headerSuffix, c.title())); ok {
			m.Chain, m.Domain = c, d
		}
	}
	if m.Chain == "" {
		return nil, fmt.Errorf("%w: header is not \"<domain> wants you to sign in with your Solana|Tron account:\"", ErrMalformed)
	}
	if m.Domain == "" || strings.ContainsAny(m.Domain, " \t/") {
		return nil, fmt.Errorf("%w: domain %q", ErrMalformed, clip(m.Domain))
	}
	m.Address = lines[1]
	if m.Address == "" || strings.ContainsAny(m.Address, " \t") {
		return nil, fmt.Errorf("%w: address line %q", ErrMalformed, clip(m.Address))
	}
	rest := lines[2:]
	if len(rest) == 0 {
		return m, nil
	}
	if rest[0] != "" || len(rest) < 2 {
		return nil, fmt.Errorf("%w: want a blank line after the address", ErrMalformed)
	}
	rest = rest[1:]
	if fieldName(rest[0]) == "" {
		m.Statement = rest[0]
		if m.Statement == "" {
			return nil, fmt.Errorf("%w: empty statement", ErrMalformed)
		}
		rest = rest[1:]
		if len(rest) == 0 {
			return m, nil
		}
		if rest[0] != "" || len(rest) < 2 {
			return nil, fmt.Errorf("%w: want a blank line after the statement", ErrMalformed)
		}
		rest = rest[1:]
	}
	next := 0
	for i := 0; i < len(rest); i++ {
		line := rest[i]
		name := fieldName(line)
		if name == "" {
			return nil, fmt.Errorf("%w: unexpected line %q", ErrMalformed, clip(line))
		}
		pos := indexOf(fieldOrder, name)
		if pos < next {
			return nil, fmt.Errorf("%w: field %q repeated or out of order", ErrMalformed, name)
		}
		next = pos + 1
		if name == "Resources" {
			if line != "Resources:" {
				return nil, fmt.Errorf("%w: want \"Resources:\" alone on its line", ErrMalformed)
			}
			for _, r := range rest[i+1:] {
				v, ok := strings.CutPrefix(r, "- ")
				if !ok || v == "" {
					return nil, fmt.Errorf("%w: resource line %q", ErrMalformed, clip(r))
				}
				m.Resources = append(m.Resources, v)
			}
			if len(m.Resources) == 0 {
				return nil, fmt.Errorf("%w: Resources without any", ErrMalformed)
			}
			break
		}
		v := strings.TrimPrefix(line, name+": ")
		if v == "" {
			return nil, fmt.Errorf("%w: empty %s", ErrMalformed, name)
		}
		var err error
		switch name {
		case "URI":
			m.URI = v
		case "Version":
			m.Version = v
		case "Chain ID":
			m.ChainID = v
		case "Nonce":
			m.Nonce = v
		case "Issued At":
			m.IssuedAt, err = parseTime(name, v)
		case "Expiration Time":
			m.ExpirationTime, err = parseTime(name, v)
		case "Not Before":
			m.NotBefore, err = parseTime(name, v)
		case "Request ID":
			m.RequestID = v
		}
		if err != nil {
			return nil, err
		}
	}
	return m, nil
}

// fieldName is the field a line starts, or "".
func fieldName(line string) string {
	for _, f := range fieldOrder {
		if strings.HasPrefix(line, f+": ") || (f == "Resources" && line == "Resources:") {
			return f
		}
	}
	return ""
}

func indexOf(xs []string, x string) int {
	for i, y := range xs {
		if y == x {
			return i
		}
	}
	return -1
}

func parseTime(name, v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return t, fmt.Errorf("%w: %s %q is not an RFC 3339 time", ErrMalformed, name, clip(v))
	}
	return t.UTC(), nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
