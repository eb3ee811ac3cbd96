package solanatest

import (
	"encoding/base64"
	"encoding/json"
	"strings"

	sol "github.com/gagliardetto/solana-go"
	"github.com/mr-tron/base58"
)

type handler func(c *chain, params []json.RawMessage) (any, error)

var methods = map[string]handler{
	"getSignaturesForAddress": getSignaturesForAddress,
	"getTransaction":          getTransaction,
	"getBalance":              getBalance,
	"getTokenAccountBalance":  getTokenAccountBalance,
	"getLatestBlockhash":      getLatestBlockhash,
	"sendTransaction":         sendTransaction,
	"getSignatureStatuses":    getSignatureStatuses,
}

// apiVersion is reported in every RPC context.
const apiVersion = "2.2.7"

func (c *chain) context() map[string]any {
	return map[string]any{"slot": c.slot, "apiVersion": apiVersion}
}

// param decodes params[i] into dst; a missing optional one is left zero.
func param(params []json.RawMessage, i int, name string, required bool, dst any) error {
	if i >= len(params) || string(params[i]) == "null" {
		if required {
			return invalidParams("missing %s", name)
		}
		return nil
	}
	if err := json.Unmarshal(params[i], dst); err != nil {
		return invalidParams("%s: %v", name, err)
	}
	return nil
}

func pubkeyParam(params []json.RawMessage, i int) (sol.PublicKey, error) {
	var s string
	if err := param(params, i, "pubkey", true, &s); err != nil {
		return sol.PublicKey{}, err
	}
	pk, err := sol.PublicKeyFromBase58(s)
	if err != nil {
		return sol.PublicKey{}, invalidParams("Invalid param: %v", err)
	}
	return pk, nil
}

func sigParam(s string, name string) (sol.Signature, error) {
	sig, err := sol.SignatureFromBase58(s)
	if err != nil {
		return sol.Signature{}, invalidParams("%s: Invalid param: %v", name, err)
	}
	return sig, nil
}

// atLeastConfirmed is the commitment of the methods that refuse
// processed.
func atLeastConfirmed(s string) (Commitment, error) {
	c, err := parseCommitment(s, Finalized)
	if err != nil {
		return 0, err
	}
	if c < Confirmed {
		return 0, invalidParams("Method does not support commitment below `confirmed`")
	}
	return c, nil
}

func getSignaturesForAddress(c *chain, params []json.RawMessage) (any, error) {
	addr, err := pubkeyParam(params, 0)
	if err != nil {
		return nil, err
	}
	var cfg struct {
		Limit      *int   `json:"limit"`
		Before     string `json:"before"`
		Until      string `json:"until"`
		Commitment string `json:"commitment"`
	}
	if err := param(params, 1, "config", false, &cfg); err != nil {
		return nil, err
	}
	limit := 1000
	if cfg.Limit != nil {
		limit = *cfg.Limit
	}
	if limit < 1 || limit > 1000 {
		return nil, invalidParams("Invalid limit; max 1000")
	}
	level, err := atLeastConfirmed(cfg.Commitment)
	if err != nil {
		return nil, err
	}
	var before, until sol.Signature
	if cfg.Before != "" {
		if before, err = sigParam(cfg.Before, "before"); err != nil {
			return nil, err
		}
	}
	if cfg.Until != "" {
		if until, err = sigParam(cfg.Until, "until"); err != nil {
			return nil, err
		}
	}
	list := c.byAddr[addr]
	out := []map[string]any{}
	started := before.IsZero()
	for i := len(list) - 1; i >= 0 && len(out) < limit; i-- {
		e := list[i]
		if !started {
			started = e.sig == before
			continue
		}
		if !until.IsZero() && e.sig == until {
			break
		}
		if e.level < level {
			continue
		}
		out = append(out, map[string]any{
			"signature": e.sig.String(), "slot": e.slot, "err": e.meta.Err, "memo": e.memo,
			"blockTime": e.blockTime, "confirmationStatus": e.level.String(),
		})
	}
	return out, nil
}

func getTransaction(c *chain, params []json.RawMessage) (any, error) {
	var s string
	if err := param(params, 0, "signature", true, &s); err != nil {
		return nil, err
	}
	sig, err := sigParam(s, "signature")
	if err != nil {
		return nil, err
	}
	var cfg struct {
		Encoding                       string  `json:"encoding"`
		Commitment                     string  `json:"commitment"`
		MaxSupportedTransactionVersion *uint64 `json:"maxSupportedTransactionVersion"`
	}
	// The second parameter is a config object, or (deprecated) the
	// encoding as a string.
	if len(params) > 1 && strings.HasPrefix(strings.TrimSpace(string(params[1])), `"`) {
		if err := param(params, 1, "encoding", false, &cfg.Encoding); err != nil {
			return nil, err
		}
	} else if err := param(params, 1, "config", false, &cfg); err != nil {
		return nil, err
	}
	level, err := atLeastConfirmed(cfg.Commitment)
	if err != nil {
		return nil, err
	}
	e, ok := c.txs[sig]
	if !ok || e.level < level {
		return nil, nil
	}
	if cfg.MaxSupportedTransactionVersion != nil && *cfg.MaxSupportedTransactionVersion > 0 {
		return nil, invalidParams("unsupported maxSupportedTransactionVersion %d (this node knows 0)", *cfg.MaxSupportedTransactionVersion)
	}
	if e.v0 && cfg.MaxSupportedTransactionVersion == nil {
		return nil, &rpcError{Code: codeUnsupportedVersion, Message: "Transaction version (0) is not supported by the requesting client. " +
			"Please try the request again with the following configuration parameter: \"maxSupportedTransactionVersion\": 0"}
	}
	var txField any
	switch cfg.Encoding {
	case "", "json":
		txField = e.tx
	case "base64":
		txField = []string{base64.StdEncoding.EncodeToString(e.raw), "base64"}
	case "base58":
		txField = []string{base58.Encode(e.raw), "base58"}
	default:
		return nil, invalidParams("unsupported encoding %q (this node serves json, base64 and base58)", cfg.Encoding)
	}
	out := map[string]any{"slot": e.slot, "blockTime": e.blockTime, "transaction": txField, "meta": e.meta}
	if cfg.MaxSupportedTransactionVersion != nil {
		if e.v0 {
			out["version"] = 0
		} else {
			out["version"] = "legacy"
		}
	}
	return out, nil
}

func getBalance(c *chain, params []json.RawMessage) (any, error) {
	pk, err := pubkeyParam(params, 0)
	if err != nil {
		return nil, err
	}
	var cfg struct {
		Commitment string `json:"commitment"`
	}
	if err := param(params, 1, "config", false, &cfg); err != nil {
		return nil, err
	}
	if _, err := parseCommitment(cfg.Commitment, Finalized); err != nil {
		return nil, err
	}
	return map[string]any{"context": c.context(), "value": c.lamports[pk]}, nil
}

func getTokenAccountBalance(c *chain, params []json.RawMessage) (any, error) {
	pk, err := pubkeyParam(params, 0)
	if err != nil {
		return nil, err
	}
	ta, ok := c.tokens[pk]
	if !ok {
		return nil, invalidParams("Invalid param: could not find account")
	}
	return map[string]any{"context": c.context(), "value": amountOf(ta.amount, c.mints[ta.mint])}, nil
}

func getLatestBlockhash(c *chain, params []json.RawMessage) (any, error) {
	var cfg struct {
		Commitment string `json:"commitment"`
	}
	if err := param(params, 0, "config", false, &cfg); err != nil {
		return nil, err
	}
	if _, err := parseCommitment(cfg.Commitment, Finalized); err != nil {
		return nil, err
	}
	return map[string]any{"context": c.context(), "value": map[string]any{
		"blockhash": c.latest.String(), "lastValidBlockHeight": c.slot + blockhashLife,
	}}, nil
}

func sendTransaction(c *chain, params []json.RawMessage) (any, error) {
	var s string
	if err := param(params, 0, "transaction", true, &s); err != nil {
		return nil, err
	}
	var cfg struct {
		Encoding      string `json:"encoding"`
		SkipPreflight bool   `json:"skipPreflight"`
	}
	if err := param(params, 1, "config", false, &cfg); err != nil {
		return nil, err
	}
	var raw []byte
	var err error
	switch cfg.Encoding {
	case "", "base58":
		raw, err = base58.Decode(s)
	case "base64":
		raw, err = base64.StdEncoding.DecodeString(s)
	default:
		return nil, invalidParams("unsupported encoding %q", cfg.Encoding)
	}
	if err != nil {
		return nil, invalidParams("invalid transaction: %v", err)
	}
	tx, err := sol.TransactionFromBytes(raw)
	if err != nil {
		return nil, invalidParams("invalid transaction: failed to deserialize solana_transaction::versioned::VersionedTransaction: %v", err)
	}
	sig, err := c.execute(tx, cfg.SkipPreflight)
	if err != nil {
		return nil, err
	}
	return sig.String(), nil
}

func getSignatureStatuses(c *chain, params []json.RawMessage) (any, error) {
	var sigs []string
	if err := param(params, 0, "signatures", true, &sigs); err != nil {
		return nil, err
	}
	if len(sigs) > 256 {
		return nil, invalidParams("Too many inputs provided; max 256")
	}
	out := make([]any, 0, len(sigs))
	for _, s := range sigs {
		sig, err := sigParam(s, "signature")
		if err != nil {
			return nil, err
		}
		e, ok := c.txs[sig]
		if !ok {
			out = append(out, nil)
			continue
		}
		var confirmations any
		if e.level < Finalized {
			confirmations = c.slot - e.slot
		}
		out = append(out, map[string]any{"slot": e.slot, "confirmations": confirmations, "err": e.meta.Err,
			"status": e.meta.Status, "confirmationStatus": e.level.String()})
	}
	return map[string]any{"context": c.context(), "value": out}, nil
}
