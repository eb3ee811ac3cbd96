package main

import (
	"io"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    options
		wantErr string
	}{
		{name: "defaults", want: options{metricsAddr: ":8080", healthAddr: ":8081", logFormat: "json", logLevel: "info"}},
		{name: "flags", args: []string{"--leader-elect", "--namespace", "prod", "--log-format", "text"},
			want: options{metricsAddr: ":8080", healthAddr: ":8081", leaderElect: true, namespace: "prod", logFormat: "text", logLevel: "info"}},
		{name: "env", env: map[string]string{"AEROLITH_OPERATOR_METRICS_ADDR": "0", "AEROLITH_OPERATOR_LEADER_ELECT": "true"},
			want: options{metricsAddr: "0", healthAddr: ":8081", leaderElect: true, logFormat: "json", logLevel: "info"}},
		{name: "flag beats env", args: []string{"--namespace", "a"}, env: map[string]string{"AEROLITH_OPERATOR_NAMESPACE": "b"},
			want: options{metricsAddr: ":8080", healthAddr: ":8081", namespace: "a", logFormat: "json", logLevel: "info"}},
		{name: "version", args: []string{"--version"}, env: map[string]string{"AEROLITH_OPERATOR_VERSION": "false"},
			want: options{metricsAddr: ":8080", healthAddr: ":8081", logFormat: "json", logLevel: "info", version: true}},
		{name: "bad log format", args: []string{"--log-format", "xml"}, wantErr: "--log-format"},
		{name: "stray argument", args: []string{"run"}, wantErr: `unexpected argument "run"`},
		{name: "unknown flag", args: []string{"--nope"}, wantErr: "not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			got, err := parse(tt.args, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parse(%v) = %v, want an error containing %q", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parse(%v) = %+v, %v, want %+v", tt.args, got, err, tt.want)
			}
		})
	}
}
