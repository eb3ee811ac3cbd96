package solanatest

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	sol "github.com/gagliardetto/solana-go"
	"github.com/gagliardetto/solana-go/programs/system"
	"github.com/gagliardetto/solana-go/programs/token"
	"github.com/gagliardetto/solana-go/rpc"
	"github.com/gagliardetto/solana-go/rpc/jsonrpc"
)

func newKey(t *testing.T) sol.PrivateKey {
	t.Helper()
	k, err := sol.NewRandomPrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func signed(t *testing.T, s *Server, payer sol.PrivateKey, opts []sol.TransactionOption, ixs ...sol.Instruction) *sol.Transaction {
	t.Helper()
	tx, err := sol.NewTransaction(ixs, s.LatestBlockhash(), append([]sol.TransactionOption{sol.TransactionPayer(payer.PublicKey())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Sign(func(k sol.PublicKey) *sol.PrivateKey {
		if k == payer.PublicKey() {
			return &payer
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return tx
}

func rpcCode(err error) int {
	var re *jsonrpc.RPCError
	if errors.As(err, &re) {
		return re.Code
	}
	return 0
}

// The methods answer solana-go's client in the documented shapes, for a
// SOL transfer sent over HTTP and read back at each commitment.
func TestSystemTransferOverRPC(t *testing.T) {
	s := New()
	defer s.Close()
	ctx := context.Background()
	c := rpc.New(s.URL())
	payer, to := newKey(t), newKey(t).PublicKey()
	s.Fund(payer.PublicKey(), 1_000_000_000)

	bh, err := c.GetLatestBlockhash(ctx, rpc.CommitmentFinalized)
	if err != nil || bh.Value.Blockhash != s.LatestBlockhash() {
		t.Fatalf("getLatestBlockhash = %+v, %v", bh, err)
	}
	tx := signed(t, s, payer, nil, system.NewTransferInstruction(250_000_000, payer.PublicKey(), to).Build())
	sig, err := c.SendTransactionWithOpts(ctx, tx, rpc.TransactionOpts{})
	if err != nil || sig != tx.Signatures[0] {
		t.Fatalf("sendTransaction = %s, %v", sig, err)
	}
	if _, err := c.SendTransactionWithOpts(ctx, tx, rpc.TransactionOpts{}); rpcCode(err) != codeSimulation {
		t.Fatalf("resending: %v, want AlreadyProcessed", err)
	}
	bal, err := c.GetBalance(ctx, to, rpc.CommitmentFinalized)
	if err != nil || bal.Value != 250_000_000 {
		t.Fatalf("getBalance = %+v, %v", bal, err)
	}
	if got := s.Balance(payer.PublicKey()); got != 1_000_000_000-250_000_000-FeePerSignature {
		t.Fatalf("payer balance %d", got)
	}

	// Processed only: invisible at confirmed and finalized.
	maxV := uint64(0)
	opts := &rpc.GetTransactionOpts{Encoding: sol.EncodingBase64, Commitment: rpc.CommitmentConfirmed, MaxSupportedTransactionVersion: &maxV}
	if _, err := c.GetTransaction(ctx, sig, opts); !errors.Is(err, rpc.ErrNotFound) {
		t.Fatalf("getTransaction of a processed transaction at confirmed: %v", err)
	}
	sigs, err := c.GetSignaturesForAddressWithOpts(ctx, to, &rpc.GetSignaturesForAddressOpts{Commitment: rpc.CommitmentConfirmed})
	if err != nil || len(sigs) != 0 {
		t.Fatalf("getSignaturesForAddress at confirmed = %v, %v", sigs, err)
	}
	st, err := c.GetSignatureStatuses(ctx, false, sig)
	if err != nil || st.Value[0] == nil || st.Value[0].ConfirmationStatus != rpc.ConfirmationStatusProcessed {
		t.Fatalf("getSignatureStatuses = %+v, %v", st, err)
	}

	s.SetCommitment(sig, Confirmed)
	res, err := c.GetTransaction(ctx, sig, opts)
	if err != nil {
		t.Fatal(err)
	}
	got, err := res.Transaction.GetTransaction()
	if err != nil || got.Signatures[0] != sig || got.VerifySignatures() != nil {
		t.Fatalf("base64 transaction: %v, %v", got, err)
	}
	if res.Meta.Err != nil || res.Meta.Fee != FeePerSignature || res.Meta.PostBalances[1]-res.Meta.PreBalances[1] != 250_000_000 {
		t.Fatalf("meta %+v", res.Meta)
	}
	if res.Version != rpc.LegacyTransactionVersion {
		t.Fatalf("version %v", res.Version)
	}
	// json encoding decodes to the same transaction.
	res, err = c.GetTransaction(ctx, sig, &rpc.GetTransactionOpts{Encoding: sol.EncodingJSON, Commitment: rpc.CommitmentConfirmed})
	if err != nil {
		t.Fatal(err)
	}
	if j, err := res.Transaction.GetTransaction(); err != nil || j.Signatures[0] != sig || j.Message.AccountKeys[1] != to {
		t.Fatalf("json transaction %v, %v", j, err)
	}
	if _, err := c.GetTransaction(ctx, sig, &rpc.GetTransactionOpts{Commitment: rpc.CommitmentFinalized}); !errors.Is(err, rpc.ErrNotFound) {
		t.Fatalf("finalized read of a confirmed transaction: %v", err)
	}
	s.Advance(Finalized)
	sigs, err = c.GetSignaturesForAddress(ctx, to)
	if err != nil || len(sigs) != 1 || sigs[0].Signature != sig || sigs[0].ConfirmationStatus != rpc.ConfirmationStatusFinalized {
		t.Fatalf("getSignaturesForAddress = %+v, %v", sigs, err)
	}
	if _, err := c.GetTransaction(ctx, sig, &rpc.GetTransactionOpts{Commitment: rpc.CommitmentProcessed}); rpcCode(err) != codeInvalidParams {
		t.Fatalf("processed commitment: %v", err)
	}
	limit := 1001
	if _, err := c.GetSignaturesForAddressWithOpts(ctx, to, &rpc.GetSignaturesForAddressOpts{Limit: &limit}); rpcCode(err) != codeInvalidParams {
		t.Fatalf("limit 1001: %v", err)
	}
}

// SPL transferChecked moves tokens, a failing one is refused in preflight
// or lands failed with skipPreflight, and a v0 transaction needs
// maxSupportedTransactionVersion.
func TestTokenTransfersAndV0(t *testing.T) {
	s := New()
	defer s.Close()
	ctx := context.Background()
	c := rpc.New(s.URL())
	payer, merchant, mint := newKey(t), newKey(t).PublicKey(), newKey(t).PublicKey()
	s.Fund(payer.PublicKey(), 10_000_000)
	s.AddMint(mint, 6)
	src := s.FundToken(payer.PublicKey(), mint, 5_000_000)
	dst := s.FundToken(merchant, mint, 0)

	xfer := func(amount uint64) sol.Instruction {
		return token.NewTransferCheckedInstruction(amount, 6, src, mint, dst, payer.PublicKey(), nil).Build()
	}
	if _, err := c.SendTransactionWithOpts(ctx, signed(t, s, payer, nil, xfer(9_000_000)), rpc.TransactionOpts{}); rpcCode(err) != codeSimulation ||
		!strings.Contains(err.Error(), "custom program error") && !strings.Contains(err.Error(), "Custom") {
		t.Fatalf("overdraft in preflight: %v", err)
	}
	failed, err := c.SendTransactionWithOpts(ctx, signed(t, s, payer, nil, xfer(9_000_000)), rpc.TransactionOpts{SkipPreflight: true})
	if err != nil {
		t.Fatal(err)
	}
	table := s.AddLookupTable(mint, dst)
	v0 := signed(t, s, payer, []sol.TransactionOption{sol.TransactionAddressTables(s.LookupTables())}, xfer(1_500_000))
	if v0.Message.GetVersion() != sol.MessageVersionV0 || len(v0.Message.AddressTableLookups) != 1 || v0.Message.AddressTableLookups[0].AccountKey != table {
		t.Fatalf("not a v0 transaction with the table: %+v", v0.Message)
	}
	sig, err := c.SendTransactionWithOpts(ctx, v0, rpc.TransactionOpts{})
	if err != nil {
		t.Fatal(err)
	}
	s.Advance(Finalized)
	if s.TokenBalance(dst) != 1_500_000 || s.TokenBalance(src) != 3_500_000 {
		t.Fatalf("balances %d %d", s.TokenBalance(src), s.TokenBalance(dst))
	}
	if _, err := c.GetTransaction(ctx, sig, &rpc.GetTransactionOpts{Encoding: sol.EncodingBase64}); rpcCode(err) != codeUnsupportedVersion {
		t.Fatalf("v0 without maxSupportedTransactionVersion: %v", err)
	}
	maxV := uint64(0)
	res, err := c.GetTransaction(ctx, sig, &rpc.GetTransactionOpts{Encoding: sol.EncodingBase64, MaxSupportedTransactionVersion: &maxV})
	if err != nil {
		t.Fatal(err)
	}
	if res.Version != 0 || len(res.Meta.LoadedAddresses.Writable) != 1 || res.Meta.LoadedAddresses.Writable[0] != dst ||
		len(res.Meta.LoadedAddresses.ReadOnly) != 1 || res.Meta.LoadedAddresses.ReadOnly[0] != mint {
		t.Fatalf("v0 result version %v loaded %+v", res.Version, res.Meta.LoadedAddresses)
	}
	if n := len(res.Meta.PostTokenBalances); n != 2 || res.Meta.PostTokenBalances[1].UiTokenAmount.Amount != "1500000" {
		t.Fatalf("post token balances %+v", res.Meta.PostTokenBalances)
	}
	fr, err := c.GetTransaction(ctx, failed, &rpc.GetTransactionOpts{Encoding: sol.EncodingJSON, MaxSupportedTransactionVersion: &maxV})
	if err != nil || fr.Meta.Err == nil {
		t.Fatalf("failed transaction meta.err = %v, %v", fr.Meta.Err, err)
	}
	bal, err := c.GetTokenAccountBalance(ctx, dst, rpc.CommitmentFinalized)
	if err != nil || bal.Value.Amount != "1500000" || bal.Value.UiAmountString != "1.5" {
		t.Fatalf("getTokenAccountBalance = %+v, %v", bal, err)
	}
	if _, err := c.GetTokenAccountBalance(ctx, merchant, rpc.CommitmentFinalized); rpcCode(err) != codeInvalidParams {
		t.Fatalf("balance of a wallet as token account: %v", err)
	}
}

func TestFaults(t *testing.T) {
	s := New()
	defer s.Close()
	c := rpc.New(s.URL())
	k := newKey(t).PublicKey()
	s.SetFault("getBalance", Fault{Code: -32005, Message: "Node is behind by 42 slots", Times: 1})
	if _, err := c.GetBalance(context.Background(), k, ""); rpcCode(err) != -32005 {
		t.Fatalf("rpc error fault: %v", err)
	}
	if _, err := c.GetBalance(context.Background(), k, ""); err != nil {
		t.Fatalf("fault outlived Times: %v", err)
	}
	s.SetFault("", Fault{HTTPStatus: http.StatusTooManyRequests})
	if _, err := c.GetBalance(context.Background(), k, ""); err == nil || !strings.Contains(err.Error(), "429") {
		t.Fatalf("http fault: %v", err)
	}
	s.SetFault("", Fault{})
	s.SetFault("getBalance", Fault{Delay: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.GetBalance(ctx, k, ""); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("delay fault: %v", err)
	}
	if s.Calls("getBalance") != 4 {
		t.Fatalf("calls %d", s.Calls("getBalance"))
	}
}
