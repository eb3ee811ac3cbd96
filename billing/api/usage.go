package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/billing/ledger"
	"github.com/aerolithdb/aerolith/internal/jsonapi"
)

// ingest: POST /api/v1/usage, authenticated by a cluster's enrollment
// token, body as ledger.DecodeUsageBatch documents → 200 with
// ledger.IngestResult {"accepted","duplicates","rejected","records":[{"status",
// "reason","retry"}]}, one entry per record in order. Records are
// idempotent by (cluster_id, node_id, incarnation, seq) forever (records
// without an incarnation: (cluster_id, node_id, seq)): a resent record is
// a duplicate and counted once. A batch whose cluster_id names another
// cluster than the token's is 403.
func (s *Server) ingest(w http.ResponseWriter, r *http.Request, p principal) error {
	noteOf(r).Set("cluster:" + p.cluster.ID)
	batch, err := decodeUsage(r.Body)
	if err != nil {
		return err
	}
	if batch.ClusterID != "" && batch.ClusterID != p.cluster.ID {
		return jsonapi.Forbidden("cluster_id: the enrollment token belongs to cluster %q, not %q", p.cluster.ID, batch.ClusterID)
	}
	res, err := s.propose(r.Context(), batch.Command(s.header(p), p.cluster.ID))
	if err != nil {
		return err
	}
	ir := res.Ingest
	if ir == nil {
		ir = &ledger.IngestResult{Records: []ledger.RecordResult{}}
	}
	if ir.Rejected == 0 {
		noteOf(r).Skip = true
	} else {
		noteOf(r).Set("", "rejected", strconv.Itoa(ir.Rejected), "accepted", strconv.Itoa(ir.Accepted), "duplicates", strconv.Itoa(ir.Duplicates))
	}
	s.metrics.batches.Observe(float64(len(batch.Records)))
	s.metrics.records.WithLabelValues("accepted").Add(float64(ir.Accepted))
	s.metrics.records.WithLabelValues("duplicate").Add(float64(ir.Duplicates))
	s.metrics.records.WithLabelValues("rejected").Add(float64(ir.Rejected))
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(appendIngestResult(make([]byte, 0, 64+24*len(ir.Records)), ir))
	return nil
}

// appendIngestResult writes ir as JSON, as encoding/json would, without
// reflection (this answer is the ingestion hot path).
func appendIngestResult(b []byte, ir *ledger.IngestResult) []byte {
	b = append(b, `{"accepted":`...)
	b = strconv.AppendInt(b, int64(ir.Accepted), 10)
	b = append(b, `,"duplicates":`...)
	b = strconv.AppendInt(b, int64(ir.Duplicates), 10)
	b = append(b, `,"rejected":`...)
	b = strconv.AppendInt(b, int64(ir.Rejected), 10)
	b = append(b, `,"records":[`...)
	for i, r := range ir.Records {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"status":"`...)
		b = append(b, r.Status.String()...)
		b = append(b, '"')
		if r.Code != "" {
			code, _ := json.Marshal(r.Code) // a string always marshals
			b = append(b, `,"code":`...)
			b = append(b, code...)
		}
		if r.Reason != "" {
			reason, _ := json.Marshal(r.Reason) // a string always marshals
			b = append(b, `,"reason":`...)
			b = append(b, reason...)
		}
		if r.Retry {
			b = append(b, `,"retry":true`...)
		}
		b = append(b, '}')
	}
	return append(b, "]}\n"...)
}

// tenantUsage: GET /api/v1/tenants/{id}/usage?from=&to=&granularity=hour|day
// → contract.UsageSeries. from and to are RFC 3339 times or dates
// (2026-01-31); to defaults to now and from to one day (hourly) or thirty
// days (daily) before to.
func (s *Server) tenantUsage(w http.ResponseWriter, r *http.Request, p principal) error {
	id := r.PathValue("id")
	if err := requireTenant(p, id); err != nil {
		return err
	}
	q := r.URL.Query()
	g, err := ledger.ParseGranularity(q.Get("granularity"))
	if err != nil {
		return err
	}
	to := s.cfg.Now().UTC()
	if v := q.Get("to"); v != "" {
		if to, err = parseTimeParam("to", v); err != nil {
			return err
		}
	}
	from := to.Add(-24 * time.Hour)
	if g == ledger.Daily {
		from = to.AddDate(0, 0, -30)
	}
	if v := q.Get("from"); v != "" {
		if from, err = parseTimeParam("from", v); err != nil {
			return err
		}
	}
	var series ledger.UsageSeries
	err = s.view(r, func(tx *bolt.Tx) error {
		var err error
		series, err = ledger.Usage(tx, id, from, to, g)
		return err
	})
	if err != nil {
		return err
	}
	jsonapi.WriteJSON(w, http.StatusOK, series.Wire())
	return nil
}

// parseTimeParam parses an RFC 3339 time or a date (UTC midnight).
func parseTimeParam(name, v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	return time.Time{}, jsonapi.Invalid("%s: %q is not an RFC 3339 time (2026-01-31T12:00:00Z) or a date (2026-01-31)", name, clip(v))
}
