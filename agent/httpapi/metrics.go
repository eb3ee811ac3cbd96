package httpapi

import (
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/aerolithdb/aerolith/agent/auth"
	"github.com/aerolithdb/aerolith/internal/jsonapi"
)

// metrics are the HTTP request metrics (see jsonapi.RequestMetrics:
// labels are the route PATTERN, e.g. "/api/v1/collections/{c}/documents/{id}"
// or "unmatched", a known method and the status code) plus the plain
// totals served by /api/v1/stats.
type metrics struct {
	*jsonapi.RequestMetrics
	counters counters
	// quotaWarnings counts requests served past a limit under the warn
	// action, by limit (never by tenant).
	quotaWarnings *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	rm, err := jsonapi.NewRequestMetrics(reg, "http", "HTTP")
	if err != nil {
		return nil, err
	}
	qw := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "aerolith", Subsystem: "quota", Name: "warnings_total",
		Help: "Requests served past a tier limit under the warn quota action, by limit.",
	}, []string{"limit"})
	if err := reg.Register(qw); err != nil {
		return nil, err
	}
	return &metrics{RequestMetrics: rm, quotaWarnings: qw}, nil
}

// Observe records a served request in the Prometheus metrics and the totals.
func (m *metrics) Observe(route, method string, status int, d time.Duration) {
	m.RequestMetrics.Observe(route, method, status, d)
	m.counters.total.Add(1)
	switch {
	case status >= 500:
		m.counters.serverErrors.Add(1)
	case status >= 400:
		m.counters.clientErrors.Add(1)
	}
}

// counters are plain totals served by /api/v1/stats.
type counters struct {
	total, clientErrors, serverErrors atomic.Uint64
}

// serveMetrics serves the Prometheus text exposition of Config.Gatherer.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	s.promHandler.ServeHTTP(w, r)
	return nil
}
