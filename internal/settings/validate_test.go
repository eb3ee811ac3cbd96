package settings

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"90s", 90 * time.Second, ""},
		{" 14d ", 14 * 24 * time.Hour, ""},
		{"1h30m", 90 * time.Minute, ""},
		{"", 0, "empty duration"},
		{"-5m", 0, "is negative"},
		{"3x", 0, "is not a duration"},
		{"99999999999999999999d", 0, "out of range"},
	} {
		got, err := ParseDuration(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseDuration(%q) = %v, %v; want error %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
		if back, err := ParseDuration(FormatDuration(got)); err != nil || back != got {
			t.Errorf("round trip of %v via %q = %v, %v", got, FormatDuration(got), back, err)
		}
	}
	if FormatDuration(48*time.Hour) != "2d" || FormatDuration(36*time.Hour) != "36h0m0s" {
		t.Errorf("FormatDuration: %q %q", FormatDuration(48*time.Hour), FormatDuration(36*time.Hour))
	}
}

func TestCheckListen(t *testing.T) {
	for _, tc := range []struct{ addr, err string }{
		{":7070", ""},
		{"127.0.0.1:0", ""},
		{"", "http-addr: required; want host:port such as :7070"},
		{"localhost", `http-addr: "localhost": missing or malformed port; want host:port such as 127.0.0.1:7070`},
		{"h:99999", `port "99999" is not a number in 0-65535`},
	} {
		err := CheckListen("http-addr", tc.addr, "7070")
		if (tc.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("CheckListen(%q) = %v, want %q", tc.addr, err, tc.err)
		}
	}
}

func TestAdvertiseHost(t *testing.T) {
	for _, tc := range []struct {
		advertise, listen string
		join              []string
		want, err         string
	}{
		{"10.0.0.9", ":7071", []string{"10.0.0.1:7071"}, "10.0.0.9", ""},
		{"", "10.0.0.5:7071", []string{"10.0.0.1:7071"}, "10.0.0.5", ""},
		{"", ":7071", nil, "127.0.0.1", ""},
		{"", "0.0.0.0:7071", []string{"127.0.0.1:7072", "localhost:7073"}, "127.0.0.1", ""},
		{"", ":7071", []string{"10.0.0.1:7071"}, "", "advertise: required when listening on all interfaces"},
		{"", "nope", nil, "", `listen address "nope"`},
	} {
		got, err := AdvertiseHost(tc.advertise, tc.join, tc.listen)
		if tc.err != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
				t.Errorf("AdvertiseHost(%q, %v, %q) = %q, %v; want error %q", tc.advertise, tc.join, tc.listen, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("AdvertiseHost(%q, %v, %q) = %q, %v; want %q", tc.advertise, tc.join, tc.listen, got, err, tc.want)
		}
	}
	if !IsUnspecified("::") || IsUnspecified("10.0.0.1") || !IsLoopback("LOCALHOST") || IsLoopback("10.0.0.1") {
		t.Error("IsUnspecified/IsLoopback")
	}
}

func TestLogging(t *testing.T) {
	if _, err := ParseLevel("loud"); err == nil || !strings.HasPrefix(err.Error(), "log-level: ") {
		t.Errorf("ParseLevel(loud) = %v", err)
	}
	if err := CheckLogFormat("xml"); err == nil || !strings.HasPrefix(err.Error(), "log-format: ") {
		t.Errorf("CheckLogFormat(xml) = %v", err)
	}
	var buf bytes.Buffer
	log := NewLogger(&buf, "WARN", "json")
	log.Info("hidden")
	log.Warn("shown")
	if s := buf.String(); strings.Contains(s, "hidden") || !strings.Contains(s, `"msg":"shown"`) {
		t.Errorf("json logger at warn wrote %q", s)
	}
	buf.Reset()
	NewLogger(&buf, "debug", "text").Debug("dbg")
	if !strings.Contains(buf.String(), "level=DEBUG msg=dbg") {
		t.Errorf("text logger wrote %q", buf.String())
	}
}

func TestClusterChecks(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"listeners ok", CheckListeners(":7080", ":7081", "7080"), ""},
		{"port 0 twice", CheckListeners("127.0.0.1:0", "127.0.0.1:0", "7080"), ""},
		{"raft-addr bad", CheckListeners(":7080", "x", "7080"), `raft-addr: "x": missing or malformed port; want host:port such as 127.0.0.1:7080`},
		{"same port", CheckListeners(":7080", ":7080", "7080"), "http-addr: :7080 is also the raft-addr"},
		{"advertise empty", CheckAdvertiseSyntax(""), ""},
		{"advertise ipv6", CheckAdvertiseSyntax("fe80::1"), ""},
		{"advertise with port", CheckAdvertiseSyntax("h:1"), `advertise: "h:1" must be a host name or IP without port`},
		{"advertise url", CheckAdvertiseSyntax("http//h"), "advertise: "},
		{"join ok", CheckJoin(3, []string{"a:1", "b:2"}, "members"), ""},
		{"negative", CheckJoin(-1, nil, "members"), "bootstrap-expect: must be >= 0"},
		{"join missing", CheckJoin(3, nil, "replicas"), "join: required with bootstrap-expect 3; list the replicas' addresses (host:port)"},
		{"join bad", CheckJoin(0, []string{"a"}, "members"), `join: "a": missing or malformed port; want host:port`},
	} {
		if (tc.want == "") != (tc.err == nil) || tc.err != nil && !strings.HasPrefix(tc.err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, tc.err, tc.want)
		}
	}
}
