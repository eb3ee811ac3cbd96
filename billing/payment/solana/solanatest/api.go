package solanatest

import (
	"fmt"
	"time"

	sol "github.com/gagliardetto/solana-go"
)

// Fund credits lamports to an account.
func (s *Server) Fund(account sol.PublicKey, lamports uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chain.lamports[account] += lamports
}

// AddMint registers an SPL token mint with its decimals.
func (s *Server) AddMint(mint sol.PublicKey, decimals uint8) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chain.mints[mint] = decimals
}

// FundToken credits amount of mint to owner's associated token account,
// creating it, and returns its address. The mint must be added first.
func (s *Server) FundToken(owner, mint sol.PublicKey, amount uint64) sol.PublicKey {
	ata, _, err := sol.FindAssociatedTokenAddress(owner, mint)
	if err != nil {
		panic(fmt.Sprintf("solanatest: associated token account of %s: %v", owner, err))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.chain.mints[mint]; !ok {
		panic(fmt.Sprintf("solanatest: mint %s not added", mint))
	}
	ta, ok := s.chain.tokens[ata]
	if !ok {
		ta = &tokenAccount{mint: mint, owner: owner}
		s.chain.tokens[ata] = ta
		// Rent-exempt minimum of a token account, as a real one holds.
		s.chain.lamports[ata] += 2_039_280
	}
	ta.amount += amount
	return ata
}

// AddLookupTable stores an address lookup table of the addresses and
// returns its address.
func (s *Server) AddLookupTable(addrs ...sol.PublicKey) sol.PublicKey {
	k, err := sol.NewRandomPrivateKey()
	if err != nil {
		panic(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chain.tables[k.PublicKey()] = append([]sol.PublicKey(nil), addrs...)
	return k.PublicKey()
}

// LookupTables returns every stored table, as solana.TransactionAddressTables
// takes them.
func (s *Server) LookupTables() map[sol.PublicKey]sol.PublicKeySlice {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[sol.PublicKey]sol.PublicKeySlice{}
	for k, v := range s.chain.tables {
		out[k] = append(sol.PublicKeySlice(nil), v...)
	}
	return out
}

// LatestBlockhash is the current blockhash, for signing transactions.
func (s *Server) LatestBlockhash() sol.Hash {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.chain.latest
}

// Submit lands a signed transaction as sendTransaction does, without
// HTTP. With skipPreflight a failing transaction lands failed.
func (s *Server) Submit(tx *sol.Transaction, skipPreflight bool) (sol.Signature, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.chain.execute(tx, skipPreflight)
}

// SetCommitment sets how settled a landed transaction is.
func (s *Server) SetCommitment(sig sol.Signature, c Commitment) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.chain.txs[sig]
	if !ok {
		panic(fmt.Sprintf("solanatest: no transaction %s", sig))
	}
	e.level = c
}

// Advance raises every transaction below c to c.
func (s *Server) Advance(c Commitment) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.chain.txs {
		e.level = max(e.level, c)
	}
}

// SetLandingCommitment sets the commitment new transactions land at
// (processed by default; finalized makes every payment final at once).
func (s *Server) SetLandingCommitment(c Commitment) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chain.landAt = c
}

// SetClock sets the clock giving block times (time.Now by default).
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chain.clock = now
}

// Balance is an account's lamports.
func (s *Server) Balance(account sol.PublicKey) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.chain.lamports[account]
}

// TokenBalance is a token account's raw amount.
func (s *Server) TokenBalance(account sol.PublicKey) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ta, ok := s.chain.tokens[account]; ok {
		return ta.amount
	}
	return 0
}
