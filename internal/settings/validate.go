package settings

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"
)

// ParseDuration parses a Go duration ("90s", "1h30m") or a whole number of
// days ("14d"). Negative durations are rejected.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty duration; want e.g. 30s, 15m, 36h or 14d")
	}
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok && days != "" && strings.Trim(days, "0123456789") == "" {
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil || n > int64(1<<62/(24*time.Hour)) {
			return 0, fmt.Errorf("%q is out of range", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		d, err = time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration; want e.g. 30s, 15m, 36h or 14d", s)
		}
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative", s)
	}
	return d, nil
}

// FormatDuration renders d the way ParseDuration reads it, using days for
// whole days.
func FormatDuration(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	return d.String()
}

// SplitHostPort is net.SplitHostPort that also checks the port is a number
// in 0-65535.
func SplitHostPort(addr string) (string, int, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, errors.New("missing or malformed port")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return "", 0, fmt.Errorf("port %q is not a number in 0-65535", port)
	}
	return host, n, nil
}

// CheckListen checks the listen address addr of option name; examplePort
// (e.g. "7070") appears in the error's suggestion.
func CheckListen(name, addr, examplePort string) error {
	if addr == "" {
		return fmt.Errorf("%s: required; want host:port such as :%s", name, examplePort)
	}
	if _, _, err := SplitHostPort(addr); err != nil {
		return fmt.Errorf("%s: %q: %v; want host:port such as 127.0.0.1:%s", name, addr, err, examplePort)
	}
	return nil
}

// IsUnspecified reports whether host is empty or an unspecified IP
// (0.0.0.0, ::): an address to listen on, not one others can dial.
func IsUnspecified(host string) bool {
	if host == "" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
}

// IsLoopback reports whether host is "localhost" or a loopback IP.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// AdvertiseHost returns the host a node announces for a listener on
// listenAddr (host:port): advertise when set; else the listen host when it
// is a specific address; else 127.0.0.1 when the setup is loopback-only
// (every join address is on loopback, or there is none). Otherwise it is an
// error naming advertise, since other nodes could not reach 0.0.0.0.
func AdvertiseHost(advertise string, join []string, listenAddr string) (string, error) {
	if advertise != "" {
		return advertise, nil
	}
	host, _, err := SplitHostPort(listenAddr)
	if err != nil {
		return "", fmt.Errorf("listen address %q: %v", listenAddr, err)
	}
	if !IsUnspecified(host) {
		return host, nil
	}
	for _, j := range join {
		h, _, err := SplitHostPort(j)
		if err != nil || !IsLoopback(h) {
			return "", fmt.Errorf("advertise: required when listening on all interfaces (%s) with non-loopback --join addresses; set --advertise to the IP or host name other nodes reach this one at", listenAddr)
		}
	}
	return "127.0.0.1", nil
}

// ParseLevel parses a log-level option: debug, info (or empty), warn (or
// warning) or error, in any case.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info", "":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("log-level: %q is unknown; want debug, info, warn or error", s)
}

// CheckLogFormat checks a log-format option: text or json.
func CheckLogFormat(s string) error {
	if s != "text" && s != "json" {
		return fmt.Errorf("log-format: %q is unknown; want text or json", s)
	}
	return nil
}

// NewLogger returns a slog.Logger writing to w at level in format ("json",
// else text). Unknown levels fall back to info.
func NewLogger(w io.Writer, level, format string) *slog.Logger {
	l, _ := ParseLevel(level)
	opts := &slog.HandlerOptions{Level: l}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// CheckListeners checks the http-addr and raft-addr options: both
// host:port, on different ports unless port 0. examplePort (e.g. "7070")
// appears in the errors' suggestions.
func CheckListeners(httpAddr, raftAddr, examplePort string) error {
	if err := CheckListen("http-addr", httpAddr, examplePort); err != nil {
		return err
	}
	if err := CheckListen("raft-addr", raftAddr, examplePort); err != nil {
		return err
	}
	if _, port, _ := SplitHostPort(httpAddr); httpAddr == raftAddr && port != 0 {
		return fmt.Errorf("http-addr: %s is also the raft-addr; give them different ports", httpAddr)
	}
	return nil
}

// CheckAdvertiseSyntax checks that a set advertise option is a host name or
// IP without a port.
func CheckAdvertiseSyntax(advertise string) error {
	if advertise != "" && (strings.ContainsAny(advertise, "/ ") || strings.Count(advertise, ":") == 1) {
		return fmt.Errorf("advertise: %q must be a host name or IP without port (the raft and http ports are added)", advertise)
	}
	return nil
}

// CheckJoin checks the bootstrap-expect and join options: a non-negative
// count, join addresses (host:port) required when more than one node is
// expected. peers names the others in the error ("members", "replicas").
func CheckJoin(bootstrapExpect int, join []string, peers string) error {
	if bootstrapExpect < 0 {
		return errors.New("bootstrap-expect: must be >= 0")
	}
	if bootstrapExpect > 1 && len(join) == 0 {
		return fmt.Errorf("join: required with bootstrap-expect %d; list the %s' addresses (host:port)", bootstrapExpect, peers)
	}
	for _, j := range join {
		if _, _, err := SplitHostPort(j); err != nil {
			return fmt.Errorf("join: %q: %v; want host:port", j, err)
		}
	}
	return nil
}
