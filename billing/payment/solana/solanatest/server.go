// Package solanatest is an offline Solana JSON-RPC node for tests: a
// real HTTP JSON-RPC 2.0 endpoint answering, in the shapes of the public
// RPC documentation, the methods a payment flow uses —
// getSignaturesForAddress, getTransaction (json and base64, legacy and v0
// with address lookup tables), getBalance, getTokenAccountBalance,
// getLatestBlockhash, sendTransaction and getSignatureStatuses.
//
// It holds real transactions signed with solana-go: sendTransaction (or
// Submit) checks the signatures and the blockhash, then executes System
// transfers, SPL Token transferChecked and Memo instructions against its
// accounts, charging the fee and recording the meta (pre/post lamports and
// token balances, err) the way a validator does. Each transaction lands
// processed; the test advances it to confirmed and finalized
// (SetCommitment, Advance), and reads honour the commitment asked for.
// Faults (an RPC error, an HTTP status, a delay that outlasts the client's
// timeout) are switched per method with SetFault.
//
// Simplifications, kept honest: balances are read at the latest state
// whatever the commitment; only the System, SPL Token, Memo and Compute
// Budget programs execute; jsonParsed encoding is refused.
package solanatest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"
)

// Fault is what a method answers instead of its result while set.
type Fault struct {
	// Code and Message make a JSON-RPC error (Code 0: none).
	Code    int
	Message string
	// HTTPStatus answers the request with that status and a plain body.
	HTTPStatus int
	// Delay holds the answer back, or until the client gives up.
	Delay time.Duration
	// Times limits the fault to the next n calls (0: until cleared).
	Times int
}

// Server is a fake Solana RPC node. Its methods are safe for concurrent
// use.
type Server struct {
	srv  *httptest.Server
	done chan struct{}

	mu     sync.Mutex
	chain  *chain
	faults map[string]*Fault
	calls  map[string]int
}

// New starts a server on a loopback port. Close it when done.
func New() *Server {
	s := &Server{done: make(chan struct{}), chain: newChain(), faults: map[string]*Fault{}, calls: map[string]int{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	return s
}

// URL is the JSON-RPC endpoint (rpc.New(s.URL())).
func (s *Server) URL() string { return s.srv.URL }

// Close stops the server, releasing delayed requests first.
func (s *Server) Close() {
	close(s.done)
	s.srv.Close()
}

// SetFault makes method ("" for every method) answer with f; a zero
// Fault clears it.
func (s *Server) SetFault(method string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f == (Fault{}) {
		delete(s.faults, method)
		return
	}
	s.faults[method] = &f
}

// Calls is how many times method has been called.
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// JSON-RPC error codes the real node uses.
const (
	codeParse          = -32700
	codeInvalidRequest = -32600
	codeMethodNotFound = -32601
	codeInvalidParams  = -32602
	codeInternal       = -32603
	// codeSimulation: sendTransaction preflight failed.
	codeSimulation = -32002
	// codeSigVerify: a signature does not verify.
	codeSigVerify = -32003
	// codeUnsupportedVersion: a v0 transaction was asked for without
	// maxSupportedTransactionVersion.
	codeUnsupportedVersion = -32015
)

// rpcError is a JSON-RPC error object.
type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data,omitempty"`
}

func (e *rpcError) Error() string { return fmt.Sprintf("%d: %s", e.Code, e.Message) }

func invalidParams(format string, a ...any) *rpcError {
	return &rpcError{Code: codeInvalidParams, Message: "Invalid params: " + fmt.Sprintf(format, a...)}
}

type request struct {
	JSONRPC string            `json:"jsonrpc"`
	ID      json.RawMessage   `json:"id"`
	Method  string            `json:"method"`
	Params  []json.RawMessage `json:"params"`
}

type response struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  any             `json:"result,omitempty"`
	Error   *rpcError       `json:"error,omitempty"`
}

// maxBody bounds a request (the real node takes 50 KiB).
const maxBody = 50 << 10

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "Used HTTP Method is not allowed. POST or OPTIONS is required", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
		return
	}
	trimmed := bytes.TrimSpace(body)
	var out any
	if len(trimmed) > 0 && trimmed[0] == '[' {
		var reqs []json.RawMessage
		if err := json.Unmarshal(trimmed, &reqs); err != nil || len(reqs) == 0 {
			out = response{JSONRPC: "2.0", ID: json.RawMessage("null"), Error: &rpcError{Code: codeParse, Message: "Parse error"}}
		} else {
			batch := make([]response, 0, len(reqs))
			for _, raw := range reqs {
				resp, status := s.one(r, raw)
				if status != 0 {
					w.WriteHeader(status)
					return
				}
				batch = append(batch, resp)
			}
			out = batch
		}
	} else {
		resp, status := s.one(r, trimmed)
		if status != 0 {
			http.Error(w, http.StatusText(status), status)
			return
		}
		out = resp
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// one answers one request; a non-zero status means answer the whole HTTP
// request with it (a fault).
func (s *Server) one(r *http.Request, raw []byte) (response, int) {
	var req request
	if err := json.Unmarshal(raw, &req); err != nil {
		return response{JSONRPC: "2.0", ID: json.RawMessage("null"), Error: &rpcError{Code: codeParse, Message: "Parse error"}}, 0
	}
	if req.ID == nil {
		req.ID = json.RawMessage("null")
	}
	resp := response{JSONRPC: "2.0", ID: req.ID}
	if req.JSONRPC != "2.0" || req.Method == "" {
		resp.Error = &rpcError{Code: codeInvalidRequest, Message: "Invalid request"}
		return resp, 0
	}
	f := s.fault(req.Method)
	if f != nil && f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return resp, http.StatusServiceUnavailable
		case <-s.done:
			t.Stop()
			return resp, http.StatusServiceUnavailable
		}
	}
	if f != nil && f.HTTPStatus != 0 {
		return resp, f.HTTPStatus
	}
	if f != nil && f.Code != 0 {
		resp.Error = &rpcError{Code: f.Code, Message: f.Message}
		return resp, 0
	}
	h, ok := methods[req.Method]
	if !ok {
		resp.Error = &rpcError{Code: codeMethodNotFound, Message: "Method not found"}
		return resp, 0
	}
	s.mu.Lock()
	result, err := h(s.chain, req.Params)
	s.mu.Unlock()
	if err != nil {
		var re *rpcError
		if !errors.As(err, &re) {
			re = &rpcError{Code: codeInternal, Message: err.Error()}
		}
		resp.Error = re
		return resp, 0
	}
	if result == nil {
		// A JSON null result ("not found") must still be sent.
		return response{JSONRPC: "2.0", ID: req.ID, Result: json.RawMessage("null")}, 0
	}
	resp.Result = result
	return resp, 0
}

// fault counts the call and returns the fault in force for it.
func (s *Server) fault(method string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[method]++
	for _, key := range []string{method, ""} {
		f, ok := s.faults[key]
		if !ok {
			continue
		}
		cp := *f
		if f.Times > 0 {
			f.Times--
			if f.Times == 0 {
				delete(s.faults, key)
			}
		}
		return &cp
	}
	return nil
}
