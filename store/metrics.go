package store

import (
	"errors"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the store's Prometheus collectors. They always exist; they
// are registered only when Config.Registerer is set.
type metrics struct {
	commitLatency     prometheus.Histogram
	applyDuration     prometheus.Histogram
	proposeDuration   prometheus.Histogram
	batchSize         prometheus.Histogram
	proposals         prometheus.Counter
	proposalsFailed   prometheus.Counter
	forwarded         prometheus.Counter
	forwardRPCs       prometheus.Counter
	readIndexRounds   prometheus.Counter
	readIndexRPCs     prometheus.Counter
	snapshots         prometheus.Counter
	snapshotDuration  prometheus.Histogram
	restores          prometheus.Counter
	promotions        prometheus.Counter
	registeredGauges  []prometheus.Collector
	registeredMetrics []prometheus.Collector
}

var latencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}

func newMetrics() *metrics {
	m := &metrics{
		commitLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "aerolith_store_commit_latency_seconds", Buckets: latencyBuckets,
			Help: "Time from the leader appending an entry to the entry reaching the state machine on the leader (leader only).",
		}),
		applyDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "aerolith_store_apply_batch_duration_seconds", Buckets: latencyBuckets,
			Help: "Duration of applying one batch of committed entries in one bbolt transaction, fsync included.",
		}),
		proposeDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "aerolith_store_propose_duration_seconds", Buckets: latencyBuckets,
			Help: "Duration of Propose calls that succeeded, as seen by the caller (commit and local apply included).",
		}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "aerolith_store_batch_commands",
			Help:    "Number of commands coalesced into one raft entry.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024},
		}),
		proposals: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "aerolith_store_proposals_total", Help: "Propose calls made on this node.",
		}),
		proposalsFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "aerolith_store_proposals_failed_total", Help: "Propose calls on this node that returned an error.",
		}),
		forwarded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "aerolith_store_forwarded_proposals_total", Help: "Commands this node forwarded to the leader.",
		}),
		forwardRPCs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "aerolith_store_forward_rpcs_total", Help: "Forward-propose RPCs this node sent to the leader (each carries many commands).",
		}),
		readIndexRounds: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "aerolith_store_read_index_rounds_total", Help: "Leadership confirmation rounds run by this node as leader for linearizable reads.",
		}),
		readIndexRPCs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "aerolith_store_read_index_rpcs_total", Help: "Read-index RPCs this node sent to the leader (shared by concurrent readers).",
		}),
		snapshots: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "aerolith_store_snapshots_total", Help: "Snapshots persisted by this node.",
		}),
		snapshotDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "aerolith_store_snapshot_duration_seconds", Help: "Duration of persisting a snapshot.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}),
		restores: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "aerolith_store_snapshot_restores_total", Help: "Snapshots restored into the state file on this node.",
		}),
		promotions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "aerolith_store_promotions_total", Help: "Non-voters promoted to voters by this node as leader.",
		}),
	}
	m.registeredMetrics = []prometheus.Collector{
		m.commitLatency, m.applyDuration, m.proposeDuration, m.batchSize, m.proposals, m.proposalsFailed,
		m.forwarded, m.forwardRPCs, m.readIndexRounds, m.readIndexRPCs, m.snapshots, m.snapshotDuration,
		m.restores, m.promotions,
	}
	return m
}

// register registers the collectors plus gauges that read s at scrape time.
func (m *metrics) register(reg prometheus.Registerer, s *Store) error {
	if reg == nil {
		return nil
	}
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	m.registeredGauges = []prometheus.Collector{
		gauge("aerolith_store_raft_state", "Raft state: 0 follower, 1 candidate, 2 leader, 3 shutdown.", func() float64 {
			if r := s.raftNode(); r != nil {
				return float64(r.State())
			}
			return float64(raft.Shutdown)
		}),
		gauge("aerolith_store_raft_term", "Current raft term.", func() float64 {
			if r := s.raftNode(); r != nil {
				return float64(r.CurrentTerm())
			}
			return 0
		}),
		gauge("aerolith_store_commit_index", "Raft commit index known to this node.", func() float64 {
			if r := s.raftNode(); r != nil {
				return float64(r.CommitIndex())
			}
			return 0
		}),
		gauge("aerolith_store_applied_index", "Index of the last entry applied to the state file.", func() float64 {
			return float64(s.fsm.applied.Load())
		}),
		gauge("aerolith_store_proposals_pending", "Proposals queued or in flight on this node.", func() float64 {
			return float64(s.pending.Load())
		}),
	}
	var errs []error
	for _, c := range append(m.registeredMetrics, m.registeredGauges...) {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		m.unregister(reg)
		return err
	}
	return nil
}

func (m *metrics) unregister(reg prometheus.Registerer) {
	if reg == nil {
		return
	}
	for _, c := range append(m.registeredMetrics, m.registeredGauges...) {
		reg.Unregister(c)
	}
}
