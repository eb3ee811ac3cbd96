// Package cloudsim is an offline cloud: a local server that speaks the
// wire protocol of the clouds the provisioner drives (the EC2 Query API;
// GCE REST and Azure Resource Manager share its state and faults), so the
// drivers are tested through the clouds' official SDKs, and that boots
// every instance it launches: it reads the instance's cloud-init user
// data, downloads the agent from the URL given, checks its SHA-256 as the
// install script would, and runs it on the instance's private address. A
// cluster created through the SDK therefore really forms, enrolls with
// billing and serves data; terminating an instance stops its agent.
//
// Faults are switchable per test (SetFaults) and by flag: eventual
// consistency, throttling, "commit then answer 500", one-item pages and
// failed launches. Every request is logged (Requests) with what its
// authentication looked like.
package cloudsim

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"
)

// Config configures a Server.
type Config struct {
	// Boot runs an instance's user data; nil launches instances that run
	// nothing (API-only tests).
	Boot Booter
	// Subnet is the /24 private addresses are taken from, a loopback range
	// by default (a random 127.x.y.0/24, so that simulators of parallel
	// tests never share addresses).
	Subnet netip.Prefix
	// PendingFor is how long a launched instance stays pending before it
	// is running; default 300ms. TerminatedTTL is how long a terminated
	// instance stays visible; default 1h (as on EC2).
	PendingFor    time.Duration
	TerminatedTTL time.Duration
	// Faults switched on from the start.
	Faults Faults
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Now; default time.Now.
	Now func() time.Time
}

// Faults are the misbehaviours of real clouds a driver must survive. Each
// counter is deterministic: every Nth request, so a test's run is
// reproducible.
type Faults struct {
	// EventualConsistency hides a new resource from the first N describe
	// or list calls after its creation (EC2: InvalidInstanceID.NotFound
	// when asked by id).
	EventualConsistency int `json:"eventual_consistency"`
	// Throttle answers every Nth request with the cloud's throttling error
	// (EC2 RequestLimitExceeded) without doing anything.
	Throttle int `json:"throttle"`
	// CommitThen500 applies every Nth mutating request and then answers it
	// 500, as a cloud whose front end fails after the back end committed:
	// a driver that retries without an idempotency token duplicates.
	CommitThen500 int `json:"commit_then_500"`
	// PageSize caps every page of a list (1: one-item pages).
	PageSize int `json:"page_size"`
	// FailLaunch makes every Nth launched instance fail: it moves from
	// pending to terminated with Server.InternalError, as a launch that
	// ran out of capacity.
	FailLaunch int `json:"fail_launch"`
}

// Validate names the first fault whose count is negative (0 is off).
func (f Faults) Validate() error {
	for _, c := range []struct {
		name string
		n    int
	}{{"eventual_consistency", f.EventualConsistency}, {"throttle", f.Throttle}, {"commit_then_500", f.CommitThen500}, {"page_size", f.PageSize}, {"fail_launch", f.FailLaunch}} {
		if c.n < 0 {
			return fmt.Errorf("fault %s: %d is negative; want 0 (off) or N (every Nth request)", c.name, c.n)
		}
	}
	return nil
}

// Request is one logged request.
type Request struct {
	Time   time.Time `json:"time"`
	Cloud  string    `json:"cloud"`
	Method string    `json:"method"`
	Path   string    `json:"path"`
	// Action is the API operation (EC2 Action).
	Action string `json:"action"`
	// Auth is the authentication scheme the request carried
	// ("AWS4-HMAC-SHA256"), "" when it had none; AuthOK whether its shape
	// was right.
	Auth   string `json:"auth"`
	AuthOK bool   `json:"auth_ok"`
	Status int    `json:"status"`
	// Error is the cloud's error code of a failed request.
	Error string `json:"error,omitempty"`
}

// Server is the simulator. It is safe for concurrent use.
type Server struct {
	cfg Config
	log *slog.Logger

	mu        sync.Mutex
	faults    Faults
	requests  []Request
	counters  map[string]int
	instances map[string]*Instance // by id
	tokens    map[string]*launch   // EC2 ClientToken → launch
	groups    map[string]*SecurityGroup
	nextIP    int
	closed    bool
	gce       gceState  // GCE's own tables (gce.go)
	arm       *armState // Azure Resource Manager resources (arm.go)
}

// Instance is one simulated VM.
type Instance struct {
	ID           string
	Cloud        string
	Region, Zone string
	ImageID      string
	InstanceType string
	PrivateIP    string
	PublicIP     string
	ClientToken  string
	GroupIDs     []string
	Tags         map[string]string
	UserData     []byte
	DiskGB       int
	LaunchTime   time.Time
	State        string // pending, running, stopping, stopped, shutting-down, terminated
	StateReason  string
	TerminatedAt time.Time
	// hiddenFor counts the describe calls still blind to the instance.
	hiddenFor int
	// willFail marks a launch that ends terminated.
	willFail bool
	proc     Process
	bootErr  string
}

// launch is what an EC2 ClientToken bought.
type launch struct {
	paramsHash    string
	reservationID string
	instanceIDs   []string
}

// New checks cfg; it does no I/O.
func New(cfg Config) (*Server, error) {
	if err := cfg.Faults.Validate(); err != nil {
		return nil, fmt.Errorf("cloudsim: %w", err)
	}
	if cfg.PendingFor == 0 {
		cfg.PendingFor = 300 * time.Millisecond
	}
	if cfg.TerminatedTTL == 0 {
		cfg.TerminatedTTL = time.Hour
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if !cfg.Subnet.IsValid() {
		var b [2]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, err
		}
		// 127.64.0.0/10 is unused by the project's other tests (127.0.0.x).
		cfg.Subnet = netip.PrefixFrom(netip.AddrFrom4([4]byte{127, 64 + b[0]&63, b[1], 0}), 24)
	}
	if cfg.Subnet.Bits() > 24 || !cfg.Subnet.Addr().Is4() {
		return nil, fmt.Errorf("cloudsim: subnet %s: want an IPv4 /24 or larger", cfg.Subnet)
	}
	return &Server{
		cfg: cfg, log: cfg.Logger.With("component", "cloudsim"), faults: cfg.Faults,
		counters: map[string]int{}, instances: map[string]*Instance{}, tokens: map[string]*launch{},
		groups: map[string]*SecurityGroup{}, nextIP: 10,
	}, nil
}

// SetFaults switches faults on or off (the zero Faults turns all off).
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
}

// Requests returns a copy of the request log.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Instances returns a snapshot of every instance (terminated ones within
// their TTL included), ordered by launch.
func (s *Server) Instances() []Instance {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceLocked()
	out := make([]Instance, 0, len(s.instances))
	for _, in := range s.instances {
		c := *in
		c.Tags = cloneTags(in.Tags)
		c.proc = nil
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].LaunchTime.Equal(out[j].LaunchTime) {
			return out[i].LaunchTime.Before(out[j].LaunchTime)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// SecurityGroups returns a snapshot of the security groups.
func (s *Server) SecurityGroups() []SecurityGroup {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SecurityGroup, 0, len(s.groups))
	for _, g := range s.groups {
		c := *g
		c.Tags = cloneTags(g.Tags)
		c.Ingress = append([]Permission(nil), g.Ingress...)
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// ServeHTTP routes a request to the cloud it speaks to: /_sim/ for the
// simulator's own controls, everything else to the EC2 Query API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, "/_sim/"):
		s.serveControl(w, r)
	case strings.HasPrefix(r.URL.Path, "/compute/") || r.URL.Path == GCETokenPath:
		s.serveGCE(w, r)
	case isARM(r):
		s.serveARM(w, r)
	default:
		s.serveEC2(w, r)
	}
}

// serveControl serves the test controls: GET /_sim/requests, GET
// /_sim/instances, PUT /_sim/faults.
func (s *Server) serveControl(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/_sim/requests":
		json.NewEncoder(w).Encode(s.Requests())
	case r.Method == http.MethodGet && r.URL.Path == "/_sim/instances":
		json.NewEncoder(w).Encode(s.Instances())
	case r.Method == http.MethodPut && r.URL.Path == "/_sim/faults":
		var f Faults
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<12))
		dec.DisallowUnknownFields()
		err := dec.Decode(&f)
		if err == nil {
			err = f.Validate()
		} else {
			err = fmt.Errorf("faults: %w", err)
		}
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
			return
		}
		s.SetFaults(f)
		w.WriteHeader(http.StatusNoContent)
	default:
		w.WriteHeader(http.StatusNotFound)
		json.NewEncoder(w).Encode(map[string]string{"error": "no such control; want GET /_sim/requests, GET /_sim/instances or PUT /_sim/faults"})
	}
}

// Close stops every running instance's agent.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	var procs []Process
	for _, in := range s.instances {
		if in.proc != nil {
			procs = append(procs, in.proc)
			in.proc = nil
		}
	}
	s.mu.Unlock()
	var first error
	for _, p := range procs {
		if err := p.Stop(context.Background()); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// nth reports whether this is the every-nth event of kind (n > 0).
func (s *Server) nth(kind string, n int) bool {
	if n <= 0 {
		return false
	}
	s.counters[kind]++
	return s.counters[kind]%n == 0
}

// allocIP hands out the next private address of the subnet.
func (s *Server) allocIP() (string, error) {
	base := s.cfg.Subnet.Masked().Addr().As4()
	n := s.nextIP
	if n > 250 {
		return "", fmt.Errorf("subnet %s is full", s.cfg.Subnet)
	}
	s.nextIP++
	base[3] = byte(n)
	return netip.AddrFrom4(base).String(), nil
}

// advanceLocked moves instances through their states as time passes:
// pending → running (or terminated for a failed launch) after
// PendingFor; shutting-down → terminated; terminated ones disappear after
// TerminatedTTL.
func (s *Server) advanceLocked() {
	now := s.cfg.Now()
	for id, in := range s.instances {
		switch in.State {
		case "pending":
			if now.Sub(in.LaunchTime) >= s.cfg.PendingFor {
				if in.willFail {
					in.State, in.StateReason, in.TerminatedAt = "terminated", "Server.InternalError: Internal error on launch", now
				} else {
					in.State = "running"
				}
			}
		case "shutting-down":
			in.State = "terminated"
		case "terminated":
			if now.Sub(in.TerminatedAt) > s.cfg.TerminatedTTL {
				delete(s.instances, id)
			}
		}
	}
}

func newID(prefix string) string {
	var b [9]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])[:17]
}

func cloneTags(m map[string]string) map[string]string {
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
