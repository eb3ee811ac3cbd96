package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/aerolithdb/aerolith/agent/config"
	"github.com/aerolithdb/aerolith/agent/meter"
	"github.com/aerolithdb/aerolith/agent/policy"
	"github.com/aerolithdb/aerolith/agent/tenancy"
	billingclient "github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/internal/atomicfile"
	"github.com/aerolithdb/aerolith/internal/audit"
	"github.com/aerolithdb/aerolith/internal/backoff"
	"github.com/aerolithdb/aerolith/internal/nodetls"
	"github.com/aerolithdb/aerolith/store"
)

// Files and directories of a managed agent inside its data directory.
const (
	// meterDir holds the meter's outbox.
	meterDir = "meter"
	// enrollmentFile keeps what billing said about the cluster (id and
	// tenants), so a restart during a billing outage enforces the stored
	// policies at once.
	enrollmentFile = "enrollment.json"
)

// Backoff of the calls to billing that start a managed agent (whoami, node
// registration, opening the policy fetcher).
const (
	enrollMinBackoff = 200 * time.Millisecond
	enrollMaxBackoff = 30 * time.Second
)

// enrollment is what billing says about the cluster an enrollment token
// belongs to.
type enrollment struct {
	ClusterID string   `json:"cluster_id"`
	Tenants   []string `json:"tenants"`
	// TokenSHA256 ties the record to the token it was obtained with: a
	// record of another token is ignored.
	TokenSHA256 string `json:"token_sha256"`
}

// managed is what makes an agent managed by billing: enrollment (whoami,
// node registration), the tenants' policies (policy.Fetcher over the
// replicated tenancy state) and their quota enforcers (governor), metering
// (meter, with the storage feed) and the count of live nodes.
//
// newManaged builds it without I/O; openMeter opens the meter's outbox
// (before the store, so storage and leadership reports have somewhere to
// go); start launches the goroutines once the store is open; stop, then
// closeMeter and closeFetcher, end it in that order.
type managed struct {
	cfg     config.Config
	log     *slog.Logger
	billing *billingclient.Client
	meter   *meter.Meter
	gov     *governor
	feed    *storageFeed
	token   string       // hex SHA-256 of the enrollment token
	tls     *nodetls.TLS // nil for plain HTTP
	// audit records policy changes and rejections (set by the agent).
	audit audit.Auditor

	st                         *store.Store
	nodeID, httpAddr, raftAddr string

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	seedCh chan struct{}

	mu         sync.Mutex
	enrolled   *enrollment // nil until known
	fetcher    *policy.Fetcher
	registered bool

	// refreshMu serializes asking billing for the cluster's tenants;
	// lastAsked (under it) spaces the asks made on demand.
	refreshMu sync.Mutex
	lastAsked time.Time
}

// minTenantAsk spaces the on-demand asks for the cluster's tenants (a key
// of a tenant this node does not know as served): a flood of such
// requests costs billing one whoami per node per interval.
const minTenantAsk = time.Second

// tenantAskTimeout bounds one ask for the cluster's tenants.
const tenantAskTimeout = 5 * time.Second

// newManaged builds the managed parts of node nodeID. It does no I/O.
// tl is the node's TLS (nil for plain HTTP): billing's certificate is
// verified against --billing-ca, else the cluster CA, else the system
// roots.
func newManaged(cfg config.Config, nodeID string, sm *StateMachine, log *slog.Logger, tl *nodetls.TLS) (*managed, error) {
	bc, err := newBillingClient(cfg, tl, log)
	if err != nil {
		return nil, err
	}
	mt, err := meter.New(meter.Config{NodeID: nodeID, DataDir: filepath.Join(cfg.DataDir, meterDir), Window: cfg.MeterWindow}, bc, log)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(cfg.EnrollmentToken))
	m := &managed{
		cfg: cfg, log: log.With("component", "managed"), billing: bc, meter: mt,
		gov: newGovernor(log.With("component", "quota")), token: hex.EncodeToString(sum[:]),
		nodeID: nodeID, seedCh: make(chan struct{}, 1), tls: tl,
	}
	m.feed = newStorageFeed(mt, sm.applyingIndex)
	m.ctx, m.cancel = context.WithCancel(context.Background())
	return m, nil
}

// openMeter opens the meter (its outbox under <data-dir>/meter). Usage
// the journal replay found damaged is recorded in the audit log
// (meter.journal_damaged), as it is lost to billing.
func (m *managed) openMeter(ctx context.Context) error {
	if err := m.meter.Open(ctx); err != nil {
		return err // the meter's errors name it already ("meter: ...")
	}
	if st, err := m.meter.Stats(); err == nil && (st.CorruptJournalRecords > 0 || st.SkippedJournalTails > 0) && m.audit != nil {
		e := audit.Event{Actor: audit.Actor{Kind: "node", Node: m.nodeID}, Action: "meter.journal_damaged", Target: "node:" + m.nodeID,
			Outcome: audit.OutcomeError, Detail: map[string]string{
				"corrupt_records_lost": strconv.Itoa(st.CorruptJournalRecords),
				"torn_tails":           strconv.Itoa(st.SkippedJournalTails),
				"skipped_bytes":        strconv.FormatInt(st.SkippedJournalBytes, 10),
			}}
		if err := m.audit.Append(ctx, e); err != nil {
			m.log.Warn("audit record failed", "action", e.Action, "err", err)
		}
	}
	return nil
}

// onLeadership is store.Config.OnLeadership: the meter integrates storage
// only while this node leads, and a new leader re-reads every tenant's
// storage (its values may predate a snapshot install).
func (m *managed) onLeadership(leader bool, at time.Time) {
	m.meter.SetLeader(leader, at)
	if leader {
		m.requestSeed()
	}
}

func (m *managed) requestSeed() {
	select {
	case m.seedCh <- struct{}{}:
	default:
	}
}

// start launches enrollment, the storage seeding and the live node count.
// A stored enrollment of the same token starts the policies at once.
func (m *managed) start(st *store.Store, httpAddr, raftAddr string) {
	m.st, m.httpAddr, m.raftAddr = st, httpAddr, raftAddr
	// Share the cluster-wide limits among the configured voters before
	// any policy is installed; the live count refines it.
	lc := newLiveCounter(st, m.nodeID, m.tls)
	m.gov.setNodes(lc.initial(m.ctx, m.cfg.BootstrapExpect))
	if e, err := m.loadEnrollment(); err != nil {
		m.log.Warn("ignoring the stored enrollment", "file", enrollmentFile, "err", err)
	} else if e != nil {
		m.log.Info("enrollment loaded; enforcing stored policies until billing answers", "cluster_id", e.ClusterID, "tenants", len(e.Tenants))
		m.setEnrollment(e)
	}
	m.goRun(m.enrollLoop)
	m.goRun(m.seedLoop)
	m.goRun(func() { m.liveLoop(lc) })
}

func (m *managed) goRun(f func()) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		f()
	}()
}

// enrollLoop asks billing who the enrollment token is (cluster id and
// tenants) and registers this node, retrying with backoff until billing
// answers or the agent stops. The policies of the tenants start as soon as
// they are known.
func (m *managed) enrollLoop() {
	var who billingclient.WhoAmI
	if !m.retry("enrollment (whoami)", func(ctx context.Context) error {
		var err error
		if who, err = m.billing.WhoAmI(ctx); err != nil {
			return err
		}
		if who.Kind != "cluster" {
			return fmt.Errorf("enrollment-token: billing knows it as a %s credential, not a cluster enrollment token (use the enrollment_token of POST /api/v1/clusters)", who.Kind)
		}
		if who.ClusterID == "" || len(who.Tenants) == 0 {
			return errors.New("billing answered whoami without a cluster id or tenants")
		}
		return nil
	}) {
		return
	}
	e := &enrollment{ClusterID: who.ClusterID, Tenants: slices.Sorted(slices.Values(who.Tenants)), TokenSHA256: m.token}
	if err := m.saveEnrollment(e); err != nil {
		m.log.Warn("could not store the enrollment; a restart during a billing outage will wait for billing", "err", err)
	}
	m.log.Info("enrolled with billing", "cluster_id", e.ClusterID, "tenants", len(e.Tenants))
	m.setEnrollment(e)
	m.goRun(m.tenantLoop)
	if !m.retry("node registration", func(ctx context.Context) error {
		_, err := m.billing.RegisterNode(ctx, e.ClusterID, m.nodeID, m.httpAddr, m.raftAddr)
		return err
	}) {
		return
	}
	m.mu.Lock()
	m.registered = true
	m.mu.Unlock()
	m.log.Info("node registered with billing", "cluster_id", e.ClusterID, "http_addr", m.httpAddr, "raft_addr", m.raftAddr)
}

// tenantLoop asks billing for the cluster's tenants every policy refresh,
// so a tenant added to or removed from the cluster in billing is served or
// refused without a restart (see refreshTenants).
func (m *managed) tenantLoop() {
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-time.After(m.cfg.PolicyRefresh):
		}
		if err := m.refreshTenants(m.ctx, true, 0); err != nil && m.ctx.Err() == nil {
			m.log.Warn("asking billing for the cluster's tenants failed; serving the known ones", "err", err)
		}
	}
}

// refreshNow asks billing for the cluster's tenants at once. With wait
// (an administrator creating a key) it always asks, after any ask under
// way; without (a request with a key of a tenant not known as served) it
// asks at most once per minTenantAsk and gives up when an ask is under
// way, so requests never queue behind billing.
func (m *managed) refreshNow(ctx context.Context, wait bool) {
	spacing := minTenantAsk
	if wait {
		spacing = 0
	}
	if err := m.refreshTenants(ctx, wait, spacing); err != nil && ctx.Err() == nil {
		m.log.Warn("asking billing for the cluster's tenants failed; serving the known ones", "err", err)
	}
}

// refreshTenants asks billing (whoami) which tenants the cluster serves
// and applies a change: the enrollment is saved, the storage feed and the
// policy fetcher follow, and the policies of added tenants are fetched at
// once. A removed tenant's policy is dropped from memory (its data and
// stored policy are kept); its keys are refused (servedOnly). It asks
// nothing when the last ask is younger than spacing, or, without wait,
// when an ask is under way.
func (m *managed) refreshTenants(ctx context.Context, wait bool, spacing time.Duration) error {
	if wait {
		m.refreshMu.Lock()
	} else if !m.refreshMu.TryLock() {
		return nil
	}
	defer m.refreshMu.Unlock()
	m.mu.Lock()
	prev := m.enrolled
	m.mu.Unlock()
	if prev == nil || (spacing > 0 && time.Since(m.lastAsked) < spacing) {
		return nil
	}
	m.lastAsked = time.Now()
	ctx, cancel := context.WithTimeout(ctx, tenantAskTimeout)
	defer cancel()
	who, err := m.billing.WhoAmI(ctx)
	if err != nil {
		return err
	}
	switch {
	case who.Kind != "cluster" || who.ClusterID != prev.ClusterID:
		return fmt.Errorf("billing answered whoami for %s %q, not cluster %q", who.Kind, who.ClusterID, prev.ClusterID)
	case len(who.Tenants) == 0:
		return errors.New("billing answered whoami without tenants")
	}
	tenants := slices.Sorted(slices.Values(who.Tenants))
	if slices.Equal(tenants, prev.Tenants) {
		return nil
	}
	var added, removed []string
	for _, t := range tenants {
		if !slices.Contains(prev.Tenants, t) {
			added = append(added, t)
		}
	}
	for _, t := range prev.Tenants {
		if !slices.Contains(tenants, t) {
			removed = append(removed, t)
		}
	}
	e := &enrollment{ClusterID: prev.ClusterID, Tenants: tenants, TokenSHA256: m.token}
	if err := m.saveEnrollment(e); err != nil {
		m.log.Warn("could not store the cluster's tenants; a restart during a billing outage serves the old ones", "err", err)
	}
	m.log.Info("the cluster's tenants changed in billing", "cluster_id", e.ClusterID, "added", added, "removed", removed, "tenants", len(tenants))
	m.setEnrollment(e)
	m.mu.Lock()
	f := m.fetcher
	m.mu.Unlock()
	if f != nil && len(added) > 0 {
		// Fetch the new tenants' policies now rather than at the next
		// refresh, so their writes are served at once.
		if err := f.Refresh(ctx); err != nil {
			m.log.Warn("fetching the policies after a change of the cluster's tenants failed; retried at the next refresh", "err", err)
		}
	}
	return nil
}

// retry runs f until it succeeds (true) or the agent stops (false),
// backing off between failures, which it logs.
func (m *managed) retry(what string, f func(ctx context.Context) error) bool {
	for n := 1; ; n++ {
		err := f(m.ctx)
		if err == nil {
			return true
		}
		if m.ctx.Err() != nil {
			return false
		}
		d := backoff.Policy{Min: enrollMinBackoff, Max: enrollMaxBackoff}.Jittered(n)
		m.log.Warn(what+" failed; retrying", "err", err, "attempt", n, "retry_in", d.Round(time.Millisecond))
		select {
		case <-time.After(d):
		case <-m.ctx.Done():
			return false
		}
	}
}

// setEnrollment records the cluster's tenants: the storage feed meters
// them, and the policy fetcher keeps their policies (opened on the first
// call, retried in the background until the stored policies can be read).
func (m *managed) setEnrollment(e *enrollment) {
	m.mu.Lock()
	prev := m.enrolled
	m.enrolled = e
	f := m.fetcher
	m.mu.Unlock()
	m.feed.setTenants(e.Tenants)
	m.requestSeed()
	if f != nil {
		if prev == nil || !slices.Equal(prev.Tenants, e.Tenants) {
			if err := f.SetTenants(e.Tenants); err != nil {
				m.log.Error("updating the tenants of the policy fetcher failed", "err", err)
			}
		}
		return
	}
	if prev != nil {
		return // a fetcher is being opened by the first call
	}
	m.goRun(func() { m.openFetcher(e.Tenants) })
}

// openFetcher opens the policy fetcher of tenants, retrying until it can
// read the stored policies or the agent stops.
func (m *managed) openFetcher(tenants []string) {
	key, _ := m.cfg.PolicyKey() // validated by config
	f, err := policy.New(policy.Config{
		Client:    m.billing,
		Tenants:   tenants,
		PublicKey: key,
		Refresh:   m.cfg.PolicyRefresh,
		Store:     tenancy.NewPolicyStore(m.st, m.st).WithAudit(m.audit),
		OnChange:  m.gov.onPolicy,
		Logger:    m.log.With("component", "policy"),
		Audit:     m.audit,
	})
	if err != nil {
		m.log.Error("policy fetcher cannot start; tenants' writes stay refused", "err", err)
		return
	}
	if !m.retry("opening the policy fetcher", func(ctx context.Context) error { return f.Open(ctx) }) {
		return
	}
	m.mu.Lock()
	m.fetcher = f
	latest := m.enrolled
	m.mu.Unlock()
	if latest != nil && !slices.Equal(latest.Tenants, tenants) {
		if err := f.SetTenants(latest.Tenants); err != nil {
			m.log.Error("updating the tenants of the policy fetcher failed", "err", err)
		}
	}
}

// seedLoop re-reads the tenants' storage for the meter when asked (after
// enrollment, on gaining leadership), once the store can serve.
func (m *managed) seedLoop() {
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-m.seedCh:
		}
		if err := m.st.WaitForLeader(m.ctx); err != nil {
			return
		}
		if err := m.feed.seed(m.ctx, m.st); err != nil && m.ctx.Err() == nil {
			m.log.Warn("reading the tenants' storage for metering failed", "err", err)
		}
	}
}

// liveLoop keeps the governor's live node count current (see liveness.go).
func (m *managed) liveLoop(lc *liveCounter) {
	probed := false
	for {
		probed = liveRound(m.ctx, lc, m.gov, m.cfg.BootstrapExpect, probed)
		wait := probeInterval
		if !probed {
			wait = startupProbeInterval
		}
		select {
		case <-m.ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// readiness returns "" when the managed parts are ready (enrolled, and a
// policy in force for every tenant), else why not. It names no tenant.
func (m *managed) readiness() string {
	m.mu.Lock()
	e := m.enrolled
	m.mu.Unlock()
	if e == nil {
		return "not ready: not enrolled with billing yet (waiting for billing to answer; see the agent log)"
	}
	missing := 0
	for _, t := range e.Tenants {
		if !m.gov.has(t) {
			missing++
		}
	}
	if missing > 0 {
		return fmt.Sprintf("not ready: no policy obtained from billing yet for %d of %d tenants; their writes are refused (see the agent log)", missing, len(e.Tenants))
	}
	return ""
}

// serves reports whether tenant is one of the cluster's tenants; known is
// false before enrollment.
func (m *managed) serves(tenant string) (ok, known bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.enrolled == nil {
		return false, false
	}
	return slices.Contains(m.enrolled.Tenants, tenant), true
}

// stop ends the goroutines (enrollment, seeding, live count).
func (m *managed) stop() {
	m.cancel()
	m.wg.Wait()
}

// closeMeter closes the meter, which writes the partial window to the
// outbox.
func (m *managed) closeMeter() error {
	if err := m.meter.Close(); err != nil {
		return fmt.Errorf("close meter: %w", err)
	}
	return nil
}

// closeFetcher stops refreshing policies.
func (m *managed) closeFetcher() error {
	m.mu.Lock()
	f := m.fetcher
	m.mu.Unlock()
	if f == nil {
		return nil
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close policy fetcher: %w", err)
	}
	return nil
}

// loadEnrollment reads the stored enrollment; nil when there is none or
// it belongs to another token.
func (m *managed) loadEnrollment() (*enrollment, error) {
	b, err := os.ReadFile(filepath.Join(m.cfg.DataDir, enrollmentFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var e enrollment
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("%s: %w", enrollmentFile, err)
	}
	if e.TokenSHA256 != m.token {
		return nil, nil
	}
	if e.ClusterID == "" || len(e.Tenants) == 0 {
		return nil, fmt.Errorf("%s: no cluster id or tenants", enrollmentFile)
	}
	return &e, nil
}

// saveEnrollment writes e atomically (internal/atomicfile: a crash or power
// loss leaves the old or the new file).
func (m *managed) saveEnrollment(e *enrollment) error {
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(m.cfg.DataDir, enrollmentFile), append(b, '\n'), 0o600)
}
