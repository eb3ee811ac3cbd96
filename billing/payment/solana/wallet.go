package solana

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	sol "github.com/gagliardetto/solana-go"
	"github.com/gagliardetto/solana-go/rpc"
	"github.com/gagliardetto/solana-go/rpc/jsonrpc"

	"github.com/aerolithdb/aerolith/billing/payment"
)

// Balance is what a wallet holds of a token, in base units: its lamports
// (getBalance) for SOL; for USDC the raw amount of its associated token
// account (getTokenAccountBalance), zero when it has none. Read at
// commitment finalized.
func (v *Verifier) Balance(ctx context.Context, wallet sol.PublicKey, t payment.Token) (uint64, error) {
	switch t {
	case payment.SOL:
		res, err := v.rpc.GetBalance(ctx, wallet, rpc.CommitmentFinalized)
		if err != nil {
			return 0, fmt.Errorf("%w: getBalance %s: %w", ErrRPC, wallet, err)
		}
		return res.Value, nil
	case payment.USDC:
		ata, _, err := sol.FindAssociatedTokenAddress(wallet, v.usdcMint)
		if err != nil {
			return 0, fmt.Errorf("token account of %s: %w", wallet, err)
		}
		res, err := v.rpc.GetTokenAccountBalance(ctx, ata, rpc.CommitmentFinalized)
		var re *jsonrpc.RPCError
		if errors.As(err, &re) && re.Code == -32602 && strings.Contains(re.Message, "could not find account") {
			return 0, nil
		}
		if err != nil {
			return 0, fmt.Errorf("%w: getTokenAccountBalance %s: %w", ErrRPC, ata, err)
		}
		if res.Value == nil {
			return 0, fmt.Errorf("%w: getTokenAccountBalance %s: no value", ErrRPC, ata)
		}
		return ParseRawAmount(res.Value.Amount)
	}
	return 0, fmt.Errorf("token %s: not a solana token", t)
}

// Pay makes the payment a transfer request asks for from payer's key: it
// builds the instructions a Solana Pay wallet would (Instructions), signs
// them over the latest blockhash and sends the transaction, returning its
// signature. The transfer still has to finalize before it counts.
func Pay(ctx context.Context, client *rpc.Client, r TransferRequest, payer sol.PrivateKey) (sol.Signature, error) {
	ixs, err := Instructions(r, payer.PublicKey())
	if err != nil {
		return sol.Signature{}, err
	}
	bh, err := client.GetLatestBlockhash(ctx, rpc.CommitmentFinalized)
	if err != nil {
		return sol.Signature{}, fmt.Errorf("%w: getLatestBlockhash: %w", ErrRPC, err)
	}
	tx, err := sol.NewTransaction(ixs, bh.Value.Blockhash, sol.TransactionPayer(payer.PublicKey()))
	if err != nil {
		return sol.Signature{}, fmt.Errorf("build transaction: %w", err)
	}
	if _, err := tx.Sign(func(k sol.PublicKey) *sol.PrivateKey {
		if k == payer.PublicKey() {
			return &payer
		}
		return nil
	}); err != nil {
		return sol.Signature{}, fmt.Errorf("sign transaction: %w", err)
	}
	sig, err := client.SendTransaction(ctx, tx)
	if err != nil {
		return sol.Signature{}, fmt.Errorf("%w: sendTransaction: %w", ErrRPC, err)
	}
	return sig, nil
}

// LoadKeypair reads a Solana CLI keypair file: a JSON array of the 64
// bytes of an ed25519 key (seed, then public key), which must agree.
func LoadKeypair(path string) (sol.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keypair: %w", err)
	}
	k, err := sol.PrivateKeyFromSolanaKeygenFileBytes(b)
	if err != nil {
		return nil, fmt.Errorf("keypair %s: %w (want a JSON array of 64 numbers, as solana-keygen writes)", path, err)
	}
	return k, nil
}
