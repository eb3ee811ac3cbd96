package trongridtest

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"

	"github.com/aerolithdb/aerolith/billing/payment/tron"
)

// Fault makes requests to a path fail.
type Fault struct {
	// Status answers with this HTTP status and Body (Status 200 with a
	// Body of garbage tests decoding).
	Status int
	Body   string
	// Hang holds the request until the client gives up (or Close).
	Hang bool
	// Times is how many requests fail; 0 means until ClearFaults.
	Times int
}

// Server is a fake TronGrid. Its methods are safe for concurrent use.
type Server struct {
	mu      sync.Mutex
	c       *chain
	apiKey  string
	faults  map[string]*Fault
	hits    map[string]int
	srv     *httptest.Server
	release chan struct{}
	once    sync.Once
}

// New starts a fake TronGrid on a loopback port with one block mined.
func New() *Server {
	s := &Server{c: newChain(), faults: map[string]*Fault{}, hits: map[string]int{}, release: make(chan struct{})}
	s.c.mine()
	s.c.solid = 1
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// URL is the base URL to configure a tron.Client with.
func (s *Server) URL() string { return s.srv.URL }

// Close releases hanging requests and stops the server.
func (s *Server) Close() {
	s.once.Do(func() { close(s.release) })
	s.srv.Close()
}

// RequireAPIKey makes every request without TRON-PRO-API-KEY: key fail
// with 401, as TronGrid does for a bad key.
func (s *Server) RequireAPIKey(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apiKey = key
}

// SetFault makes requests whose path starts with prefix fail.
func (s *Server) SetFault(prefix string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[prefix] = &f
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = map[string]*Fault{}
}

// Hits is how many requests reached path (faulted ones included).
func (s *Server) Hits(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path]
}

// AddToken deploys a TRC-20 contract at addr: transfer(address,uint256)
// calls to it succeed and emit Transfer logs.
func (s *Server) AddToken(addr tron.Address, symbol string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.c.tokens[addr] = symbol
}

// Fund credits sun to addr (creating the account), as a faucet would.
func (s *Server) Fund(addr tron.Address, sun int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.c.trx[addr] += sun
}

// Mint credits value of token to holder, as the token's issuer would.
func (s *Server) Mint(token, holder tron.Address, value *big.Int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.c.tokenBalance(token, holder)
	b.Add(b, value)
}

// TRXBalance is addr's TRX balance in sun at the head block.
func (s *Server) TRXBalance(addr tron.Address) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.c.trx[addr]
}

// TokenBalance is holder's balance of token at the head block.
func (s *Server) TokenBalance(token, holder tron.Address) *big.Int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return new(big.Int).Set(s.c.tokenBalance(token, holder))
}

// Head is the number of the newest block; Solid that of the newest
// solidified one.
func (s *Server) Head() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.c.head().number
}

// Solid is the solidified head.
func (s *Server) Solid() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.c.solid
}

// Mine puts the mempool into a new block and returns its number.
func (s *Server) Mine() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.c.mine().number
}

// Solidify makes every block up to the head solidified.
func (s *Server) Solidify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.c.solid = s.c.head().number
}

// SendTRX signs and submits a TRX transfer of sun from key to to and
// mines it into a new (unsolidified) block; it returns the tx id. It
// panics when the chain would refuse the transfer (not enough TRX: Fund
// the sender first).
func (s *Server) SendTRX(key *secp256k1.PrivateKey, to tron.Address, sun int64, opts ...TxOption) string {
	c := tron.Contract{Type: tron.TransferContractType, Transfer: &tron.TransferContract{Owner: Addr(key), To: to, Amount: sun}}
	return s.send(key, c, 0, opts)
}

// SendTRC20 signs and submits transfer(to, value) on the token contract
// from key, mined into a new (unsolidified) block.
func (s *Server) SendTRC20(key *secp256k1.PrivateKey, contract, to tron.Address, value *big.Int, opts ...TxOption) string {
	data, err := tron.EncodeTRC20Transfer(to, value)
	if err != nil {
		panic(err)
	}
	c := tron.Contract{Type: tron.TriggerSmartContractType, Trigger: &tron.TriggerSmartContract{Owner: Addr(key), Contract: contract, Data: data}}
	return s.send(key, c, 100_000_000, opts)
}

func (s *Server) send(key *secp256k1.PrivateKey, c tron.Contract, feeLimit int64, opts []TxOption) string {
	var o txOpts
	for _, f := range opts {
		f(&o)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	raw := s.c.rawFor(c, o.memo, feeLimit)
	if err := s.c.validate(raw); err != nil {
		panic("trongridtest: " + err.Error())
	}
	signer := key
	if o.signer != nil {
		signer = o.signer
	}
	sig := tron.Sign(signer, tron.TxID(raw.Marshal()))
	if o.zeroV {
		sig[64] -= 27
	}
	e := &entry{tx: txJSON(raw, [][]byte{sig}, ""), raw: raw, opts: o}
	s.c.txs[e.tx.TxID] = e
	s.c.mem = append(s.c.mem, e.tx.TxID)
	if !o.mempool {
		s.c.mine()
	}
	return e.tx.TxID
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.hits[r.URL.Path]++
	key := s.apiKey
	var fault *Fault
	for p, f := range s.faults {
		if strings.HasPrefix(r.URL.Path, p) {
			fault = f
			if f.Times > 0 {
				if f.Times--; f.Times == 0 {
					delete(s.faults, p)
				}
			}
			break
		}
	}
	s.mu.Unlock()
	if key != "" && r.Header.Get(tron.APIKeyHeader) != key {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"Error": "ApiKey not exists"})
		return
	}
	if fault != nil {
		if fault.Hang {
			select {
			case <-r.Context().Done():
			case <-s.release:
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(fault.Status)
		fmt.Fprint(w, fault.Body)
		return
	}
	switch {
	case r.URL.Path == "/wallet/gettransactionbyid" || r.URL.Path == "/walletsolidity/gettransactionbyid":
		s.getTransaction(w, r, strings.HasPrefix(r.URL.Path, "/walletsolidity"))
	case r.URL.Path == "/wallet/gettransactioninfobyid" || r.URL.Path == "/walletsolidity/gettransactioninfobyid":
		s.getInfo(w, r, strings.HasPrefix(r.URL.Path, "/walletsolidity"))
	case r.URL.Path == "/wallet/getnowblock" || r.URL.Path == "/walletsolidity/getnowblock":
		s.nowBlock(w, strings.HasPrefix(r.URL.Path, "/walletsolidity"))
	case r.URL.Path == "/wallet/createtransaction":
		s.createTransaction(w, r)
	case r.URL.Path == "/wallet/triggersmartcontract":
		s.triggerSmartContract(w, r)
	case r.URL.Path == "/wallet/broadcasttransaction":
		s.broadcast(w, r)
	case r.URL.Path == "/wallet/getaccount" || r.URL.Path == "/walletsolidity/getaccount":
		s.getAccount(w, r)
	case r.URL.Path == "/wallet/triggerconstantcontract":
		s.triggerConstant(w, r)
	case strings.HasPrefix(r.URL.Path, "/v1/accounts/"):
		s.accountTransactions(w, r)
	default:
		http.NotFound(w, r)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// nodeError answers as java-tron does: 200 with {"Error": …}.
func nodeError(w http.ResponseWriter, format string, args ...any) {
	writeJSON(w, http.StatusOK, map[string]string{"Error": fmt.Sprintf(format, args...)})
}

func readValue(r *http.Request) (string, error) {
	var req struct {
		Value string `json:"value"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		return "", err
	}
	return strings.ToLower(req.Value), nil
}

func (s *Server) getTransaction(w http.ResponseWriter, r *http.Request, solid bool) {
	id, err := readValue(r)
	if err != nil {
		nodeError(w, "class java.lang.IllegalArgumentException : %v", err)
		return
	}
	s.mu.Lock()
	e, ok := s.c.txs[id]
	var tx tron.TxJSON
	// Like java-tron, only transactions in blocks are found.
	if ok && e.block > 0 && (!solid || e.block <= s.c.solid) {
		tx = e.tx
	} else {
		ok = false
	}
	s.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusOK, struct{}{})
		return
	}
	writeJSON(w, http.StatusOK, tx)
}

func (s *Server) getInfo(w http.ResponseWriter, r *http.Request, solid bool) {
	id, err := readValue(r)
	if err != nil {
		nodeError(w, "class java.lang.IllegalArgumentException : %v", err)
		return
	}
	s.mu.Lock()
	e, ok := s.c.txs[id]
	var info tron.TxInfoJSON
	if ok && e.block > 0 && (!solid || e.block <= s.c.solid) {
		info = e.info
	} else {
		ok = false
	}
	s.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusOK, struct{}{})
		return
	}
	writeJSON(w, http.StatusOK, info)
}

func (s *Server) nowBlock(w http.ResponseWriter, solid bool) {
	s.mu.Lock()
	b := *s.c.head()
	if solid {
		b = s.c.blocks[s.c.solid]
	}
	parent := s.c.blocks[max(b.number-1, 0)].id
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"blockID": hex.EncodeToString(b.id[:]),
		"block_header": map[string]any{
			"raw_data": map[string]any{
				"number":     b.number,
				"timestamp":  b.time,
				"parentHash": hex.EncodeToString(parent[:]),
				"version":    30,
			},
		},
	})
}
