package solana

import (
	"errors"
	"fmt"

	sol "github.com/gagliardetto/solana-go"
	"github.com/gagliardetto/solana-go/programs/memo"
	"github.com/gagliardetto/solana-go/programs/system"
	"github.com/gagliardetto/solana-go/programs/token"
)

// Instructions builds what a wallet sends for a transfer request, as the
// Solana Pay specification describes: a memo instruction (when the
// request has a memo), then the transfer — a System transfer for SOL, an
// SPL Token transferChecked from the payer's associated token account to
// the recipient's for a token — with the references appended as read-only,
// non-signer accounts.
func Instructions(r TransferRequest, payer sol.PublicKey) ([]sol.Instruction, error) {
	if !r.HasAmount || r.Amount == 0 {
		return nil, errors.New("transfer request: no amount")
	}
	var out []sol.Instruction
	if r.Memo != "" {
		m, err := memo.NewMemoInstruction([]byte(r.Memo)).ValidateAndBuild()
		if err != nil {
			return nil, fmt.Errorf("memo: %w", err)
		}
		out = append(out, m)
	}
	var base sol.Instruction
	if r.SPLToken.IsZero() {
		base = system.NewTransferInstruction(r.Amount, payer, r.Recipient).Build()
	} else {
		src, _, err := sol.FindAssociatedTokenAddress(payer, r.SPLToken)
		if err != nil {
			return nil, fmt.Errorf("payer token account: %w", err)
		}
		dst, _, err := sol.FindAssociatedTokenAddress(r.Recipient, r.SPLToken)
		if err != nil {
			return nil, fmt.Errorf("recipient token account: %w", err)
		}
		base = token.NewTransferCheckedInstruction(r.Amount, r.Decimals, src, r.SPLToken, dst, payer, nil).Build()
	}
	data, err := base.Data()
	if err != nil {
		return nil, fmt.Errorf("transfer: %w", err)
	}
	accts := append(sol.AccountMetaSlice(nil), base.Accounts()...)
	for _, ref := range r.References {
		accts = append(accts, sol.Meta(ref))
	}
	return append(out, sol.NewInstruction(base.ProgramID(), accts, data)), nil
}
