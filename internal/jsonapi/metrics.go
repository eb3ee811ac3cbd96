package jsonapi

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Observer is told about every request the Instrument middleware serves.
type Observer interface {
	// Begin is called when a request starts, End when its handler returns
	// (or panics).
	Begin()
	End()
	// Observe is called for every answered request (not for one aborted
	// with http.ErrAbortHandler) with its route pattern (or "unmatched"),
	// method, status and duration.
	Observe(route, method string, status int, d time.Duration)
}

// RequestMetrics are the Prometheus request metrics of one API. Labels are
// the route PATTERN, a known method and the status code, so no id, key or
// name from a URL ever becomes a label.
type RequestMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
}

var _ Observer = (*RequestMetrics)(nil)

// NewRequestMetrics registers aerolith_<subsystem>_requests_total,
// _request_duration_seconds and _requests_in_flight with reg. what starts
// their help texts ("HTTP", "Billing API").
func NewRequestMetrics(reg prometheus.Registerer, subsystem, what string) (*RequestMetrics, error) {
	m := &RequestMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "aerolith", Subsystem: subsystem, Name: "requests_total",
			Help: what + " requests served, by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "aerolith", Subsystem: subsystem, Name: "request_duration_seconds",
			Help:    what + " request latency, by route pattern, method and status code.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method", "code"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "aerolith", Subsystem: subsystem, Name: "requests_in_flight",
			Help: what + " requests being served.",
		}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.inFlight} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Begin counts a request in flight.
func (m *RequestMetrics) Begin() { m.inFlight.Inc() }

// End counts a request out of flight.
func (m *RequestMetrics) End() { m.inFlight.Dec() }

// Observe records a served request.
func (m *RequestMetrics) Observe(route, method string, status int, d time.Duration) {
	code := strconv.Itoa(status)
	method = MethodLabel(method)
	m.requests.WithLabelValues(route, method, code).Inc()
	m.duration.WithLabelValues(route, method, code).Observe(d.Seconds())
}

// MethodLabel bounds a method label to the methods HTTP defines ("other"
// for the rest).
func MethodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "other"
}

// Registries returns an API's metrics registerer and the gatherer its
// /metrics serves, defaulted: nil reg means a private registry, which
// is also what a nil gat serves. reg without gat is an error: /metrics
// would not serve what the API registers.
func Registries(reg prometheus.Registerer, gat prometheus.Gatherer) (prometheus.Registerer, prometheus.Gatherer, error) {
	if reg == nil {
		r := prometheus.NewRegistry()
		reg = r
		if gat == nil {
			gat = r
		}
	}
	if gat == nil {
		return nil, nil, errors.New("Gatherer is required when Registerer is set")
	}
	return reg, gat, nil
}
