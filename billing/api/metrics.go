package api

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/aerolithdb/aerolith/internal/jsonapi"
)

// metrics are the API's Prometheus metrics. Labels are route PATTERNS,
// known methods, status codes and record outcomes: never an id or key.
type metrics struct {
	*jsonapi.RequestMetrics
	records *prometheus.CounterVec
	batches prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	rm, err := jsonapi.NewRequestMetrics(reg, "billing_http", "Billing API")
	if err != nil {
		return nil, err
	}
	m := &metrics{
		RequestMetrics: rm,
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
	for _, c := range []prometheus.Collector{m.records, m.batches} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// serveMetrics serves the Prometheus text exposition of Config.Gatherer.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request, _ principal) error {
	promhttp.HandlerFor(s.cfg.Gatherer, promhttp.HandlerOpts{}).ServeHTTP(w, r)
	return nil
}
