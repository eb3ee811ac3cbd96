package tron

import (
	"context"
	"encoding/hex"
	"fmt"
	"math/big"
	"net/http"
)

// TRXBalance reads addr's TRX balance in sun (/wallet/getaccount). An
// account that does not exist on chain yet (never received TRX) has 0.
func (c *Client) TRXBalance(ctx context.Context, addr Address) (int64, error) {
	b, err := c.do(ctx, http.MethodPost, "/wallet/getaccount", nil, map[string]any{"address": addr.Hex()})
	if err != nil {
		return 0, err
	}
	return DecodeAccountBalance(b)
}

// DecodeAccountBalance reads the balance of a /wallet/getaccount answer;
// {} (no such account) is 0.
func DecodeAccountBalance(body []byte) (int64, error) {
	if isEmptyObject(body) {
		return 0, nil
	}
	if err := nodeError(body); err != nil {
		return 0, err
	}
	var acct struct {
		Address string `json:"address"`
		Balance int64  `json:"balance"`
	}
	if err := strictUnmarshal(body, &acct); err != nil {
		return 0, fmt.Errorf("%w: account: %v", ErrBadResponse, err)
	}
	if _, err := ParseAddress(acct.Address); err != nil {
		return 0, fmt.Errorf("%w: account: %w", ErrBadResponse, err)
	}
	if acct.Balance < 0 {
		return 0, fmt.Errorf("%w: account balance %d", ErrBadResponse, acct.Balance)
	}
	return acct.Balance, nil
}

// TRC20Balance reads holder's balance of a TRC-20 token in its base units
// by calling balanceOf(address) read-only (/wallet/triggerconstantcontract).
func (c *Client) TRC20Balance(ctx context.Context, token, holder Address) (*big.Int, error) {
	param := make([]byte, 32)
	copy(param[12:], holder[1:])
	req := map[string]any{
		"owner_address":     holder.Hex(),
		"contract_address":  token.Hex(),
		"function_selector": "balanceOf(address)",
		"parameter":         hex.EncodeToString(param),
	}
	b, err := c.do(ctx, http.MethodPost, "/wallet/triggerconstantcontract", nil, req)
	if err != nil {
		return nil, err
	}
	out, err := DecodeConstantResult(b)
	if err != nil {
		return nil, err
	}
	if len(out) != 32 {
		return nil, fmt.Errorf("%w: balanceOf returned %d bytes, want 32", ErrBadResponse, len(out))
	}
	return new(big.Int).SetBytes(out), nil
}

// DecodeConstantResult reads constant_result[0] of a
// /wallet/triggerconstantcontract answer; a failed call is ErrBadResponse
// with the node's (hex-decoded) message.
func DecodeConstantResult(body []byte) ([]byte, error) {
	if err := nodeError(body); err != nil {
		return nil, err
	}
	var ans struct {
		Result struct {
			Result  bool   `json:"result"`
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"result"`
		ConstantResult []string `json:"constant_result"`
	}
	if err := strictUnmarshal(body, &ans); err != nil {
		return nil, fmt.Errorf("%w: triggerconstantcontract: %v", ErrBadResponse, err)
	}
	if !ans.Result.Result {
		return nil, fmt.Errorf("%w: triggerconstantcontract: %s %s", ErrBadResponse, ans.Result.Code, hexMessage(ans.Result.Message))
	}
	if len(ans.ConstantResult) != 1 {
		return nil, fmt.Errorf("%w: triggerconstantcontract: %d results, want 1", ErrBadResponse, len(ans.ConstantResult))
	}
	out, err := hex.DecodeString(ans.ConstantResult[0])
	if err != nil {
		return nil, fmt.Errorf("%w: triggerconstantcontract: result not hex", ErrBadResponse)
	}
	return out, nil
}
