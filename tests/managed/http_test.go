package managed

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// answer is one HTTP call as the client saw it.
type answer struct {
	Status  int // 0 after a transport error
	Code    string
	Message string
	Header  http.Header
	Body    []byte
	Err     error // transport error
	// Written is set once the transport wrote the request on some
	// connection: it may have reached a node even when the final error
	// is a refused dial (net/http retries a GET whose connection broke
	// before the answer on a new connection).
	Written bool
	Sent    int // request body bytes
	Took    time.Duration
}

func (a answer) String() string {
	if a.Err != nil {
		return "transport error: " + a.Err.Error()
	}
	if a.Code != "" {
		return fmt.Sprintf("%d %s: %s", a.Status, a.Code, a.Message)
	}
	return fmt.Sprintf("%d %s", a.Status, clip(string(a.Body), 300))
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// decode unmarshals the body into v.
func (a answer) decode(v any) error {
	if err := json.Unmarshal(a.Body, v); err != nil {
		return fmt.Errorf("decode %s: %w", a, err)
	}
	return nil
}

// caller sends exactly one HTTP request per call: no retries, so every
// outcome is known precisely (see outcome).
type caller struct{ hc *http.Client }

func newCaller(timeout time.Duration) *caller {
	return &caller{hc: &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			MaxIdleConnsPerHost: 32,
			IdleConnTimeout:     30 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// do sends one request with "Authorization: Bearer key" (none when key is
// empty) and extra headers.
func (c *caller) do(ctx context.Context, method, u, key string, body []byte, hdr http.Header) answer {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	var written atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(httptrace.WroteRequestInfo) { written.Store(true) },
	})
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return answer{Err: err}
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		return answer{Err: err, Written: written.Load(), Sent: len(body), Took: time.Since(start)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	a := answer{Status: resp.StatusCode, Header: resp.Header, Body: b, Sent: len(body), Took: time.Since(start)}
	if err != nil {
		return answer{Err: fmt.Errorf("read body: %w", err), Sent: len(body), Took: a.Took}
	}
	if a.Status >= 300 {
		var eb struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(b, &eb) == nil {
			a.Code, a.Message = eb.Error.Code, eb.Error.Message
		}
	}
	return a
}

// notSent reports a transport error that proves the request never reached
// a server (the connection was refused: the process is down). It is proof
// only if the request was never written before (answer.Written).
func notSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// outcome classifies an answer by the data API's metering rule (package
// doc of agent/httpapi): a request is metered iff it was admitted and
// executed, that is it answered below 500 and was neither an
// authentication or role refusal (401, 403: decided before the request
// reaches the meter) nor a quota refusal (the quota error codes).
type outcome int

const (
	outNotSent   outcome = iota // never reached a node: not metered
	outServed                   // metered
	outRefused                  // answered, not metered
	outAmbiguous                // sent, no answer: may or may not be metered
)

// quotaCodes are the error codes of quota refusals.
var quotaCodes = map[string]bool{
	"quota_exceeded": true, "storage_quota_exceeded": true, "payment_required": true, "query_timeout": true,
}

func classify(a answer) outcome {
	switch {
	case a.Err != nil && notSent(a.Err) && !a.Written:
		return outNotSent
	case a.Err != nil:
		return outAmbiguous
	case a.Status >= 500, a.Status == http.StatusUnauthorized, a.Status == http.StatusForbidden, quotaCodes[a.Code]:
		return outRefused
	default:
		return outServed
	}
}

// kind is what a request is metered as.
type kind int

const (
	kindRead  kind = iota // document get, list: 1 read
	kindWrite             // put, delete, collection or index change: 1 write; a batch: 1 per operation
	kindQuery             // query: 1 query
	kindMeta              // stats, cluster: bytes only
	numKinds
)

var kindNames = [numKinds]string{"reads", "writes", "queries", "meta"}

// counts are one tenant's client-side figures.
type counts struct {
	Served    [numKinds]uint64 // metered units (a batch of n counts n writes)
	Ambiguous [numKinds]uint64
	Refused   [numKinds]uint64
	NotSent   [numKinds]uint64
	// Ingress and Egress are the body bytes of served requests; the
	// Ambiguous* figures bound what ambiguous ones may add (egress of an
	// answer never seen is unknown).
	Ingress, Egress  uint64
	AmbiguousIngress uint64
}

func (c counts) String() string {
	var sb strings.Builder
	for k := kind(0); k < numKinds; k++ {
		fmt.Fprintf(&sb, "%s: served %d ambiguous %d refused %d not-sent %d; ", kindNames[k], c.Served[k], c.Ambiguous[k], c.Refused[k], c.NotSent[k])
	}
	fmt.Fprintf(&sb, "ingress %d (+%d ambiguous) egress %d", c.Ingress, c.AmbiguousIngress, c.Egress)
	return sb.String()
}

// tally counts every request of every tenant client by outcome.
type tally struct {
	mu sync.Mutex
	m  map[string]*counts
}

func newTally() *tally { return &tally{m: map[string]*counts{}} }

func (t *tally) add(tenant string, k kind, units uint64, a answer) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.m[tenant]
	if c == nil {
		c = &counts{}
		t.m[tenant] = c
	}
	switch classify(a) {
	case outServed:
		c.Served[k] += units
		c.Ingress += uint64(a.Sent)
		c.Egress += uint64(len(a.Body))
	case outAmbiguous:
		c.Ambiguous[k] += units
		c.AmbiguousIngress += uint64(a.Sent)
	case outRefused:
		c.Refused[k] += units
	case outNotSent:
		c.NotSent[k] += units
	}
}

// get returns a copy of tenant's counts.
func (t *tally) get(tenant string) counts {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c := t.m[tenant]; c != nil {
		return *c
	}
	return counts{}
}

// tenantClient sends a tenant's requests with its key and counts each in
// a tally (when set).
type tenantClient struct {
	tenant string
	key    string
	c      *caller
	tally  *tally
}

// call sends one request metered as k (units: 1, or a batch's operations).
func (tc *tenantClient) call(ctx context.Context, k kind, units uint64, method, u string, body []byte) answer {
	a := tc.c.do(ctx, method, u, tc.key, body, nil)
	if tc.tally != nil {
		tc.tally.add(tc.tenant, k, units, a)
	}
	return a
}

// API paths.
func docURL(base, coll, id string) string {
	return base + "/api/v1/collections/" + url.PathEscape(coll) + "/documents/" + url.PathEscape(id)
}

func collURL(base, coll string) string {
	return base + "/api/v1/collections/" + url.PathEscape(coll)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// data wraps a document body as the API expects it.
func data(v any) []byte { return mustJSON(map[string]any{"data": v}) }
