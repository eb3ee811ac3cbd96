package agent

import (
	"github.com/prometheus/client_golang/prometheus"
)

// managedCollector exports the managed agent's figures: the meter's outbox
// and reporting, the policies and the quota decisions. No metric carries a
// tenant label (figures are summed over tenants).
type managedCollector struct {
	m *managed

	pending, nextSeq, sent, acked, dead, overlap *prometheus.Desc
	journalCorrupt, journalSkipped, held, ready  *prometheus.Desc
	deadLetters                                  *prometheus.Desc
	enrolled, registered, tenants, policies      *prometheus.Desc
	lastRefresh, rejected, liveNodes, decisions  *prometheus.Desc
}

func newManagedCollector(m *managed) *managedCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return &managedCollector{
		m:       m,
		pending: d("aerolith_meter_outbox_records", "Usage records in the outbox, not yet acknowledged by billing."),
		nextSeq: d("aerolith_meter_next_seq", "Sequence number the next usage record of this node gets."),
		sent:    d("aerolith_meter_records_sent_total", "Usage records sent to billing since the agent started (resends included)."),
		acked:   d("aerolith_meter_records_acked_total", "Usage records billing acknowledged (accepted or duplicate) since the agent started."),
		dead:    d("aerolith_meter_records_dead_lettered_total", "Usage records billing rejected for good since the agent started (kept in the dead-letter bucket)."),
		overlap: d("aerolith_meter_storage_overlap_seconds_total", "Leadership time storage was integrated for after leadership was lost (see agent/meter)."),
		journalCorrupt: d("aerolith_meter_journal_corrupt_records_total",
			"Corrupt journal records the meter skipped in the middle of a file at start: usage lost to billing (see the audit log's meter.journal_damaged)."),
		journalSkipped: d("aerolith_meter_journal_skipped_bytes_total", "Journal bytes the meter skipped at start: corrupt records and torn tails."),
		deadLetters: d("aerolith_meter_dead_letters",
			"Usage records in this node's dead-letter bucket: rejected for good by billing and not billed until replayed (alert on > 0; see aerolith meter dead-letters)."),
		held:        d("aerolith_meter_held_usages", "Applied writes whose usage the journal could not take (a full disk), held in memory until it can; their answers wait."),
		ready:       d("aerolith_meter_ready", "1 while the meter can record usage; 0 after a failed journal write (a full disk): writes are refused before they are applied."),
		enrolled:    d("aerolith_billing_enrolled", "1 once billing told this node its cluster and tenants."),
		registered:  d("aerolith_billing_node_registered", "1 once this node registered with billing."),
		tenants:     d("aerolith_tenants", "Tenants the cluster serves, as billing said."),
		policies:    d("aerolith_policies", "Tenants with a verified policy in force on this node."),
		lastRefresh: d("aerolith_policy_last_refresh_timestamp_seconds", "When every tenant's policy was last fetched from billing (0: never since start)."),
		rejected:    d("aerolith_policy_rejected_total", "Policies rejected since start: bad signature, wrong tenant, stale."),
		liveNodes:   d("aerolith_quota_live_nodes", "Live nodes the cluster-wide quotas are shared among."),
		decisions:   d("aerolith_quota_decisions_total", "Requests that reached a quota limit, by limit and outcome, summed over tenants.", "limit", "outcome"),
	}
}

// Describe implements prometheus.Collector.
func (c *managedCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.pending, c.nextSeq, c.sent, c.acked, c.dead, c.overlap, c.journalCorrupt, c.journalSkipped, c.held, c.ready, c.deadLetters, c.enrolled, c.registered, c.tenants, c.policies, c.lastRefresh, c.rejected, c.liveNodes, c.decisions} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *managedCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	m := c.m
	if st, err := m.meter.Stats(); err == nil {
		gauge(c.pending, float64(st.Pending))
		gauge(c.nextSeq, float64(st.NextSeq))
		counter(c.sent, float64(st.Sent))
		counter(c.acked, float64(st.Acked))
		counter(c.dead, float64(st.DeadLettered))
		counter(c.overlap, st.StorageOverlap.Seconds())
		counter(c.journalCorrupt, float64(st.CorruptJournalRecords))
		counter(c.journalSkipped, float64(st.SkippedJournalBytes))
		gauge(c.held, float64(st.Held))
		gauge(c.deadLetters, float64(st.DeadLetters))
		gauge(c.ready, b2f(!st.Unready))
	}
	m.mu.Lock()
	e, f, reg := m.enrolled, m.fetcher, m.registered
	m.mu.Unlock()
	gauge(c.enrolled, b2f(e != nil))
	gauge(c.registered, b2f(reg))
	if e != nil {
		gauge(c.tenants, float64(len(e.Tenants)))
		n := 0
		for _, t := range e.Tenants {
			if m.gov.has(t) {
				n++
			}
		}
		gauge(c.policies, float64(n))
	}
	if f != nil {
		st := f.Status()
		last := 0.0
		if !st.LastSuccess.IsZero() {
			last = float64(st.LastSuccess.UnixNano()) / 1e9
		}
		gauge(c.lastRefresh, last)
		counter(c.rejected, float64(st.Rejected))
	}
	gauge(c.liveNodes, float64(m.gov.liveNodes()))
	for k, v := range m.gov.stats() {
		counter(c.decisions, float64(v), string(k.Limit), string(k.Outcome))
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
