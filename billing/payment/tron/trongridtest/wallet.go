package trongridtest

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/aerolithdb/aerolith/billing/payment/tron"
)

// The transaction building and broadcasting endpoints and the /v1
// account listings.

func (s *Server) createTransaction(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Owner  string `json:"owner_address"`
		To     string `json:"to_address"`
		Amount int64  `json:"amount"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		nodeError(w, "class com.google.protobuf.InvalidProtocolBufferException : %v", err)
		return
	}
	owner, err1 := tron.ParseAddress(req.Owner)
	to, err2 := tron.ParseAddress(req.To)
	switch {
	case err1 != nil:
		nodeError(w, "class java.lang.IllegalArgumentException : Invalid ownerAddress!")
		return
	case err2 != nil:
		nodeError(w, "class java.lang.IllegalArgumentException : Invalid toAddress!")
		return
	case req.Amount <= 0:
		nodeError(w, "class org.tron.core.exception.ContractValidateException : Amount must be greater than 0.")
		return
	}
	s.mu.Lock()
	raw := s.c.rawFor(tron.Contract{Type: tron.TransferContractType, Transfer: &tron.TransferContract{Owner: owner, To: to, Amount: req.Amount}}, nil, 0)
	err := s.c.validate(raw)
	s.mu.Unlock()
	if err != nil {
		nodeError(w, "class org.tron.core.exception.ContractValidateException : %s", err)
		return
	}
	writeJSON(w, http.StatusOK, txJSON(raw, nil, ""))
}

func (s *Server) triggerSmartContract(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Owner     string `json:"owner_address"`
		Contract  string `json:"contract_address"`
		Selector  string `json:"function_selector"`
		Parameter string `json:"parameter"`
		FeeLimit  int64  `json:"fee_limit"`
		CallValue int64  `json:"call_value"`
	}
	fail := func(code, msg string) {
		writeJSON(w, http.StatusOK, map[string]any{"result": map[string]any{"code": code, "message": hex.EncodeToString([]byte(msg))}})
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		fail("OTHER_ERROR", err.Error())
		return
	}
	owner, err1 := tron.ParseAddress(req.Owner)
	contract, err2 := tron.ParseAddress(req.Contract)
	param, err3 := hex.DecodeString(req.Parameter)
	if err1 != nil || err2 != nil || err3 != nil || req.Selector == "" {
		fail("CONTRACT_VALIDATE_ERROR", "invalid owner, contract, selector or parameter")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.c.tokens[contract]; !ok {
		fail("CONTRACT_VALIDATE_ERROR", "No contract or not a smart contract")
		return
	}
	sel := tron.Keccak256([]byte(req.Selector))
	data := append(sel[:4:4], param...)
	raw := s.c.rawFor(tron.Contract{Type: tron.TriggerSmartContractType, Trigger: &tron.TriggerSmartContract{
		Owner: owner, Contract: contract, CallValue: req.CallValue, Data: data,
	}}, nil, req.FeeLimit)
	writeJSON(w, http.StatusOK, map[string]any{"result": map[string]any{"result": true}, "transaction": txJSON(raw, nil, "")})
}

func (s *Server) broadcast(w http.ResponseWriter, r *http.Request) {
	var j tron.TxJSON
	refuse := func(code, id, msg string) {
		writeJSON(w, http.StatusOK, map[string]any{"code": code, "txid": id, "message": hex.EncodeToString([]byte(msg))})
	}
	if err := json.NewDecoder(r.Body).Decode(&j); err != nil {
		refuse("OTHER_ERROR", "", err.Error())
		return
	}
	tx, err := tron.TransactionFromJSON(j)
	if err != nil {
		refuse("OTHER_ERROR", j.TxID, err.Error())
		return
	}
	if len(j.RawData) == 0 {
		refuse("OTHER_ERROR", tx.ID, "raw_data missing")
		return
	}
	if len(tx.RawData.Contracts) != 1 {
		refuse("CONTRACT_VALIDATE_ERROR", tx.ID, "one contract per transaction")
		return
	}
	ct := tx.RawData.Contracts[0]
	var owner tron.Address
	switch {
	case ct.Transfer != nil:
		owner = ct.Transfer.Owner
	case ct.Trigger != nil:
		owner = ct.Trigger.Owner
	default:
		refuse("CONTRACT_VALIDATE_ERROR", tx.ID, "contract type not supported by this fake")
		return
	}
	if !tx.SignedBy(owner) {
		refuse("SIGERROR", tx.ID, "validate signature error: not signed by the owner")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.c.txs[tx.ID]; dup {
		refuse("DUP_TRANSACTION_ERROR", tx.ID, "dup transaction")
		return
	}
	if err := s.c.validate(tx.RawData); err != nil {
		refuse("CONTRACT_VALIDATE_ERROR", tx.ID, err.Error())
		return
	}
	e := &entry{tx: txJSON(tx.RawData, tx.Signatures, ""), raw: tx.RawData}
	s.c.txs[tx.ID] = e
	s.c.mem = append(s.c.mem, tx.ID)
	s.c.mine()
	writeJSON(w, http.StatusOK, map[string]any{"result": true, "txid": tx.ID})
}

// accountTransactions serves /v1/accounts/{address}/transactions[/trc20]
// with only_to, only_confirmed, min_timestamp, contract_address, limit,
// fingerprint and order_by=block_timestamp,asc|desc.
func (s *Server) accountTransactions(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/v1/accounts/")
	addrText, kind, _ := strings.Cut(rest, "/")
	bad := func(msg string) {
		writeJSON(w, http.StatusBadRequest, map[string]any{"success": false, "error": msg, "statusCode": 400})
	}
	addr, err := tron.ParseAddress(addrText)
	if err != nil {
		bad("invalid address")
		return
	}
	if kind != "transactions" && kind != "transactions/trc20" {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	limit := 20
	if l := q.Get("limit"); l != "" {
		if limit, err = strconv.Atoi(l); err != nil || limit < 1 || limit > 200 {
			bad("limit must be 1..200")
			return
		}
	}
	var minTS int64
	if m := q.Get("min_timestamp"); m != "" {
		if minTS, err = strconv.ParseInt(m, 10, 64); err != nil {
			bad("invalid min_timestamp")
			return
		}
	}
	var contract tron.Address
	if c := q.Get("contract_address"); c != "" {
		if contract, err = tron.ParseAddress(c); err != nil {
			bad("invalid contract_address")
			return
		}
	}
	start := 0
	if f := q.Get("fingerprint"); f != "" {
		b, err := base64.RawURLEncoding.DecodeString(f)
		if err == nil {
			start, err = strconv.Atoi(strings.TrimPrefix(string(b), "offset:"))
		}
		if err != nil || start < 0 {
			bad("invalid fingerprint")
			return
		}
	}
	onlyTo, confirmed := q.Get("only_to") == "true", q.Get("only_confirmed") == "true"
	desc := q.Get("order_by") != "block_timestamp,asc"

	s.mu.Lock()
	var items []any
	var times []int64
	for _, blk := range s.c.blocks {
		if blk.time < minTS || (confirmed && blk.number > s.c.solid) {
			continue
		}
		for _, id := range blk.txs {
			e := s.c.txs[id]
			if kind == "transactions" {
				ct := e.raw.Contracts[0]
				var from, to tron.Address
				switch {
				case ct.Transfer != nil:
					from, to = ct.Transfer.Owner, ct.Transfer.To
				case ct.Trigger != nil:
					from, to = ct.Trigger.Owner, ct.Trigger.Contract
				}
				if to != addr && (onlyTo || from != addr) {
					continue
				}
				j := e.tx
				j.BlockNumber, j.BlockTimestamp = blk.number, blk.time
				items, times = append(items, j), append(times, blk.time)
				continue
			}
			for _, m := range e.trc20 {
				if (!contract.IsZero() && m.contract != contract) || (m.to != addr && (onlyTo || m.from != addr)) {
					continue
				}
				items = append(items, map[string]any{
					"transaction_id":  id,
					"token_info":      map[string]any{"symbol": s.c.tokens[m.contract], "address": m.contract.String(), "decimals": 6, "name": s.c.tokens[m.contract]},
					"block_timestamp": blk.time,
					"from":            m.from.String(),
					"to":              m.to.String(),
					"type":            "Transfer",
					"value":           m.value.String(),
				})
				times = append(times, blk.time)
			}
		}
	}
	at := s.c.head().time
	s.mu.Unlock()
	if desc {
		idx := make([]int, len(items))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return times[idx[a]] > times[idx[b]] })
		sorted := make([]any, len(items))
		for i, k := range idx {
			sorted[i] = items[k]
		}
		items = sorted
	}
	if start > len(items) {
		start = len(items)
	}
	end := min(start+limit, len(items))
	meta := map[string]any{"at": at, "page_size": end - start}
	if end < len(items) {
		fp := base64.RawURLEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(end)))
		meta["fingerprint"] = fp
		next := *r.URL
		nq := next.Query()
		nq.Set("fingerprint", fp)
		next.RawQuery = nq.Encode()
		meta["links"] = map[string]any{"next": "http://" + r.Host + next.String()}
	}
	page := items[start:end]
	if page == nil {
		page = []any{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": page, "success": true, "meta": meta})
}

// getAccount serves /wallet/getaccount: {} for an account that does not
// exist (never received TRX), else its address and balance.
func (s *Server) getAccount(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Address string `json:"address"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		nodeError(w, "class com.google.protobuf.InvalidProtocolBufferException : %v", err)
		return
	}
	a, err := tron.ParseAddress(req.Address)
	if err != nil {
		nodeError(w, "class java.lang.IllegalArgumentException : Invalid address")
		return
	}
	s.mu.Lock()
	bal, ok := s.c.trx[a]
	created := s.c.blocks[0].time
	s.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusOK, struct{}{})
		return
	}
	m := map[string]any{"address": a.Hex(), "create_time": created}
	if bal != 0 { // proto3 JSON omits zero
		m["balance"] = bal
	}
	writeJSON(w, http.StatusOK, m)
}

// triggerConstant serves /wallet/triggerconstantcontract for the
// read-only calls of a TRC-20 token: balanceOf(address) and decimals().
func (s *Server) triggerConstant(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Owner     string `json:"owner_address"`
		Contract  string `json:"contract_address"`
		Selector  string `json:"function_selector"`
		Parameter string `json:"parameter"`
	}
	fail := func(code, msg string) {
		writeJSON(w, http.StatusOK, map[string]any{"result": map[string]any{"code": code, "message": hex.EncodeToString([]byte(msg))}})
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		fail("OTHER_ERROR", err.Error())
		return
	}
	contract, err := tron.ParseAddress(req.Contract)
	if err != nil {
		fail("CONTRACT_VALIDATE_ERROR", "invalid contract address")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.c.tokens[contract]; !ok {
		fail("CONTRACT_VALIDATE_ERROR", "No contract or not a smart contract")
		return
	}
	var out string
	switch req.Selector {
	case "balanceOf(address)":
		p, err := hex.DecodeString(req.Parameter)
		if err != nil || len(p) != 32 {
			fail("CONTRACT_EXE_ERROR", "REVERT opcode executed")
			return
		}
		holder, err := tron.AddressFromEVM(p[12:])
		if err != nil {
			fail("CONTRACT_EXE_ERROR", "REVERT opcode executed")
			return
		}
		out = fmt.Sprintf("%064x", s.c.tokenBalance(contract, holder))
	case "decimals()":
		out = fmt.Sprintf("%064x", 6)
	default:
		fail("CONTRACT_EXE_ERROR", "REVERT opcode executed")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"result": map[string]any{"result": true}, "energy_used": 935, "constant_result": []string{out}})
}
