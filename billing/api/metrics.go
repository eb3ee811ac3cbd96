package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the API's Prometheus metrics. Labels are route PATTERNS,
// known methods, status codes and record outcomes: never an id or key.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
	records  *prometheus.CounterVec
	batches  prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "aerolith", Subsystem: "billing_http", Name: "requests_total",
			Help: "Billing API requests served, by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "aerolith", Subsystem: "billing_http", Name: "request_duration_seconds",
			Help:    "Billing API request latency, by route pattern, method and status code.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method", "code"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "aerolith", Subsystem: "billing_http", Name: "requests_in_flight",
			Help: "Billing API requests being served.",
		}),
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "aerolith", Subsystem: "billing", Name: "usage_records_total",
			Help: "Usage records received by this replica, by outcome (accepted, duplicate, rejected).",
		}, []string{"outcome"}),
		batches: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "aerolith", Subsystem: "billing", Name: "usage_batch_records",
			Help:    "Records per usage batch received by this replica.",
			Buckets: []float64{1, 10, 50, 100, 250, 500, 1000},
		}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.inFlight, m.records, m.batches} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// methodLabel bounds the method label to the methods HTTP defines.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "other"
}

func (m *metrics) observe(route, method string, status int, d time.Duration) {
	code := strconv.Itoa(status)
	method = methodLabel(method)
	m.requests.WithLabelValues(route, method, code).Inc()
	m.duration.WithLabelValues(route, method, code).Observe(d.Seconds())
}

// serveMetrics serves the Prometheus text exposition of Config.Gatherer.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request, _ principal) error {
	promhttp.HandlerFor(s.cfg.Gatherer, promhttp.HandlerOpts{}).ServeHTTP(w, r)
	return nil
}
