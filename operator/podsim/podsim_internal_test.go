package podsim

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestExitCode(t *testing.T) {
	tests := []struct {
		reason string
		want   int32
	}{
		{"exit status 0", 0},
		{"exit status 3", 3},
		{"signal: killed", 137},
		{"signal: terminated", 143},
		{"start: no such file", 1},
	}
	for _, tt := range tests {
		if got := exitCode(tt.reason); got != tt.want {
			t.Errorf("exitCode(%q) = %d, want %d", tt.reason, got, tt.want)
		}
	}
}

// The readiness probe runs as the template says, with the API's defaults
// for what it leaves out, against the pod's own address.
func TestProbeOf(t *testing.T) {
	c := corev1.Container{
		Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 7070}},
		ReadinessProbe: &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/readyz", Port: intstr.FromString("http"), Scheme: corev1.URISchemeHTTPS}},
			PeriodSeconds: 5, FailureThreshold: 3,
		},
	}
	got := probeOf(c, "127.1.2.3")
	want := probeSpec{url: "https://127.1.2.3:7070/readyz", period: 5 * time.Second, timeout: time.Second, success: 1, failure: 3}
	if got != want {
		t.Errorf("probeOf = %+v, want %+v", got, want)
	}
	if got := probeOf(corev1.Container{}, "127.1.2.3"); got.url != "" {
		t.Errorf("probeOf without a probe = %+v, want no URL (ready while running)", got)
	}
}
