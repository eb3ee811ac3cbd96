package tron

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

// ErrRPC is wrapped by every error reaching or being answered by the node
// (transport failure, timeout, HTTP status other than 200): a caller can
// retry later, the payment is neither proven nor disproven.
var ErrRPC = errors.New("trongrid request failed")

// APIKeyHeader is the header TronGrid reads its API key from.
const APIKeyHeader = "TRON-PRO-API-KEY"

// maxBody bounds what the client reads of one answer.
const maxBody = 8 << 20

// ClientConfig configures a Client.
type ClientConfig struct {
	// URL is the node's base URL, e.g. https://api.trongrid.io (mainnet),
	// https://api.shasta.trongrid.io or https://nile.trongrid.io.
	URL string
	// APIKey is sent as TRON-PRO-API-KEY when set.
	APIKey string
	// Timeout bounds each request (default 15s); the context bounds it too.
	Timeout time.Duration
	// HTTPClient is used when set (default: a client of its own).
	HTTPClient *http.Client
	// PageSize is the limit asked of /v1 listings (default 200, TronGrid's
	// maximum).
	PageSize int
	// MaxPages bounds one listing (default 100) so a node that pages
	// forever cannot hold a caller.
	MaxPages int
}

// Client is a small client of TronGrid's HTTP API. It is safe for
// concurrent use and does no I/O until called.
type Client struct {
	base *url.URL
	cfg  ClientConfig
	http *http.Client
}

// NewClient checks cfg and returns a Client.
func NewClient(cfg ClientConfig) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(cfg.URL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("tron url %q: want http(s)://host[:port]", cfg.URL)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 15 * time.Second
	}
	if cfg.PageSize <= 0 || cfg.PageSize > 200 {
		cfg.PageSize = 200
	}
	if cfg.MaxPages <= 0 {
		cfg.MaxPages = 100
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	return &Client{base: u, cfg: cfg, http: hc}, nil
}

// do sends one request and returns the body of a 200 answer.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body any) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	u := *c.base
	u.Path = c.base.Path + path
	u.RawQuery = query.Encode()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.cfg.APIKey != "" {
		req.Header.Set(APIKeyHeader, c.cfg.APIKey)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %s %s: %w", ErrRPC, method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %s %s: reading answer: %w", ErrRPC, method, path, err)
	}
	if len(b) > maxBody {
		return nil, fmt.Errorf("%w: %s %s: answer larger than %d bytes", ErrRPC, method, path, maxBody)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: %s %s: http %d: %s", ErrRPC, method, path, resp.StatusCode, clip(strings.TrimSpace(string(b))))
	}
	return b, nil
}

type valueReq struct {
	Value string `json:"value"`
}

// TransactionByID fetches a transaction from the full node
// (/wallet/gettransactionbyid), solidified or not. ErrNotFound when the
// node does not know it.
func (c *Client) TransactionByID(ctx context.Context, id string) (*Transaction, error) {
	id, err := ParseTxID(id)
	if err != nil {
		return nil, err
	}
	b, err := c.do(ctx, http.MethodPost, "/wallet/gettransactionbyid", nil, valueReq{id})
	if err != nil {
		return nil, err
	}
	tx, err := DecodeTransaction(b)
	if err != nil {
		return nil, err
	}
	if tx.ID != id {
		return nil, fmt.Errorf("%w: asked for transaction %s, got %s", ErrBadResponse, id, tx.ID)
	}
	return tx, nil
}

// SolidTransactionInfo fetches the info of a solidified transaction
// (/walletsolidity/gettransactioninfobyid); ErrNotFound when it is not
// solidified (or unknown).
func (c *Client) SolidTransactionInfo(ctx context.Context, id string) (*TransactionInfo, error) {
	return c.transactionInfo(ctx, "/walletsolidity/gettransactioninfobyid", id)
}

// TransactionInfo fetches the info of a transaction in a block that may
// not be solidified yet (/wallet/gettransactioninfobyid).
func (c *Client) TransactionInfo(ctx context.Context, id string) (*TransactionInfo, error) {
	return c.transactionInfo(ctx, "/wallet/gettransactioninfobyid", id)
}

func (c *Client) transactionInfo(ctx context.Context, path, id string) (*TransactionInfo, error) {
	id, err := ParseTxID(id)
	if err != nil {
		return nil, err
	}
	b, err := c.do(ctx, http.MethodPost, path, nil, valueReq{id})
	if err != nil {
		return nil, err
	}
	info, err := DecodeTransactionInfo(b)
	if err != nil {
		return nil, err
	}
	if info.ID != id {
		return nil, fmt.Errorf("%w: asked for the info of %s, got %s", ErrBadResponse, id, info.ID)
	}
	return info, nil
}

// NowBlock returns the number of the newest block (/wallet/getnowblock)
// or, with solid, of the newest solidified one (/walletsolidity/getnowblock).
func (c *Client) NowBlock(ctx context.Context, solid bool) (int64, error) {
	path := "/wallet/getnowblock"
	if solid {
		path = "/walletsolidity/getnowblock"
	}
	b, err := c.do(ctx, http.MethodPost, path, nil, struct{}{})
	if err != nil {
		return 0, err
	}
	return DecodeNowBlock(b)
}

// DecodeNowBlock reads block_header.raw_data.number of a block answer.
func DecodeNowBlock(body []byte) (int64, error) {
	if err := nodeError(body); err != nil {
		return 0, err
	}
	var blk struct {
		BlockID     string `json:"blockID"`
		BlockHeader struct {
			RawData struct {
				Number    int64 `json:"number"`
				Timestamp int64 `json:"timestamp"`
			} `json:"raw_data"`
		} `json:"block_header"`
	}
	if err := strictUnmarshal(body, &blk); err != nil {
		return 0, fmt.Errorf("%w: block: %v", ErrBadResponse, err)
	}
	if blk.BlockHeader.RawData.Number <= 0 {
		return 0, fmt.Errorf("%w: block without a number", ErrBadResponse)
	}
	return blk.BlockHeader.RawData.Number, nil
}

// CreateTransfer asks the node for an unsigned TRX transfer
// (/wallet/createtransaction) and checks that what it built is exactly
// that transfer before anyone signs it.
func (c *Client) CreateTransfer(ctx context.Context, from, to Address, sun int64) (*Transaction, error) {
	if sun <= 0 {
		return nil, fmt.Errorf("trx amount %d sun: want more than 0", sun)
	}
	req := map[string]any{"owner_address": from.Hex(), "to_address": to.Hex(), "amount": sun}
	b, err := c.do(ctx, http.MethodPost, "/wallet/createtransaction", nil, req)
	if err != nil {
		return nil, err
	}
	tx, err := DecodeTransaction(b)
	if err != nil {
		return nil, err
	}
	want := TransferContract{Owner: from, To: to, Amount: sun}
	if len(tx.RawData.Contracts) != 1 || tx.RawData.Contracts[0].Transfer == nil || *tx.RawData.Contracts[0].Transfer != want {
		return nil, fmt.Errorf("%w: the node built a transaction other than the transfer asked for", ErrBadResponse)
	}
	return tx, nil
}

// CreateTRC20Transfer asks the node for an unsigned TRC-20 transfer
// (/wallet/triggersmartcontract) and checks what it built.
func (c *Client) CreateTRC20Transfer(ctx context.Context, from, contract, to Address, value *big.Int, feeLimit int64) (*Transaction, error) {
	data, err := EncodeTRC20Transfer(to, value)
	if err != nil {
		return nil, err
	}
	req := map[string]any{
		"owner_address":     from.Hex(),
		"contract_address":  contract.Hex(),
		"function_selector": "transfer(address,uint256)",
		"parameter":         hex.EncodeToString(data[4:]),
		"fee_limit":         feeLimit,
		"call_value":        0,
	}
	b, err := c.do(ctx, http.MethodPost, "/wallet/triggersmartcontract", nil, req)
	if err != nil {
		return nil, err
	}
	var ans struct {
		Result struct {
			Result  bool   `json:"result"`
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"result"`
		Transaction *TxJSON `json:"transaction"`
	}
	if err := strictUnmarshal(b, &ans); err != nil {
		return nil, fmt.Errorf("%w: triggersmartcontract: %v", ErrBadResponse, err)
	}
	if !ans.Result.Result || ans.Transaction == nil {
		return nil, fmt.Errorf("%w: triggersmartcontract: %s %s", ErrBadResponse, ans.Result.Code, hexMessage(ans.Result.Message))
	}
	tx, err := TransactionFromJSON(*ans.Transaction)
	if err != nil {
		return nil, err
	}
	cs := tx.RawData.Contracts
	if len(cs) != 1 || cs[0].Trigger == nil || cs[0].Trigger.Owner != from || cs[0].Trigger.Contract != contract ||
		cs[0].Trigger.CallValue != 0 || !bytes.Equal(cs[0].Trigger.Data, data) {
		return nil, fmt.Errorf("%w: the node built a transaction other than the transfer asked for", ErrBadResponse)
	}
	return tx, nil
}

// Sign appends key's signature over tx's id, to the decoded and the JSON
// form alike (Broadcast sends the latter).
func (tx *Transaction) Sign(key *secp256k1.PrivateKey) {
	sig := Sign(key, TxID(tx.Raw))
	tx.Signatures = append(tx.Signatures, sig)
	tx.JSON.Signature = append(tx.JSON.Signature, hex.EncodeToString(sig))
}

// Broadcast submits a signed transaction (/wallet/broadcasttransaction).
func (c *Client) Broadcast(ctx context.Context, tx *Transaction) error {
	b, err := c.do(ctx, http.MethodPost, "/wallet/broadcasttransaction", nil, tx.JSON)
	if err != nil {
		return err
	}
	var ans struct {
		Result  bool   `json:"result"`
		Code    string `json:"code"`
		TxID    string `json:"txid"`
		Message string `json:"message"`
	}
	if err := strictUnmarshal(b, &ans); err != nil {
		return fmt.Errorf("%w: broadcast: %v", ErrBadResponse, err)
	}
	if !ans.Result {
		return fmt.Errorf("broadcast of %s refused: %s %s", tx.ID, ans.Code, hexMessage(ans.Message))
	}
	return nil
}

// hexMessage decodes the hex-encoded messages java-tron answers with.
func hexMessage(s string) string {
	if b, err := hex.DecodeString(s); err == nil {
		return clip(string(b))
	}
	return clip(s)
}

// ListQuery narrows a /v1 account listing.
type ListQuery struct {
	// Since keeps transactions in blocks at or after it (min_timestamp).
	Since time.Time
	// Contract keeps the transfers of one TRC-20 contract.
	Contract Address
}

// TRC20Transfer is one entry of /v1/accounts/{a}/transactions/trc20: a
// candidate to verify, never proof of payment by itself.
type TRC20Transfer struct {
	TxID      string
	From, To  Address
	Contract  Address
	Value     *big.Int
	BlockTime time.Time
}

type listMeta struct {
	Fingerprint string `json:"fingerprint"`
	PageSize    int    `json:"page_size"`
}

// IncomingTRC20 lists the solidified TRC-20 transfers to account, oldest
// first, following TronGrid's fingerprint paging to the end.
func (c *Client) IncomingTRC20(ctx context.Context, account Address, q ListQuery) ([]TRC20Transfer, error) {
	var out []TRC20Transfer
	err := c.list(ctx, "/v1/accounts/"+account.String()+"/transactions/trc20", q, func(data json.RawMessage) error {
		var items []struct {
			TransactionID string `json:"transaction_id"`
			TokenInfo     struct {
				Address string `json:"address"`
			} `json:"token_info"`
			BlockTimestamp int64  `json:"block_timestamp"`
			From           string `json:"from"`
			To             string `json:"to"`
			Type           string `json:"type"`
			Value          string `json:"value"`
		}
		if err := json.Unmarshal(data, &items); err != nil {
			return err
		}
		for _, it := range items {
			if it.Type != "Transfer" {
				continue
			}
			t, err := decodeTRC20Item(it.TransactionID, it.TokenInfo.Address, it.From, it.To, it.Value)
			if err != nil {
				return err
			}
			t.BlockTime = time.UnixMilli(it.BlockTimestamp).UTC()
			if t.To == account {
				out = append(out, t)
			}
		}
		return nil
	})
	return out, err
}

func decodeTRC20Item(id, contract, from, to, value string) (TRC20Transfer, error) {
	var t TRC20Transfer
	var err error
	if t.TxID, err = ParseTxID(id); err != nil {
		return t, err
	}
	if t.Contract, err = ParseAddress(contract); err != nil {
		return t, err
	}
	if t.From, err = ParseAddress(from); err != nil {
		return t, err
	}
	if t.To, err = ParseAddress(to); err != nil {
		return t, err
	}
	if t.Value, err = ParseUint256(value); err != nil {
		return t, err
	}
	return t, nil
}

// IncomingTRX lists the solidified transactions to account that carry a
// TransferContract to it, oldest first, each decoded and checked as
// DecodeTransaction does.
func (c *Client) IncomingTRX(ctx context.Context, account Address, q ListQuery) ([]*Transaction, error) {
	var out []*Transaction
	err := c.list(ctx, "/v1/accounts/"+account.String()+"/transactions", q, func(data json.RawMessage) error {
		var items []json.RawMessage
		if err := json.Unmarshal(data, &items); err != nil {
			return err
		}
		for _, raw := range items {
			var j TxJSON
			if err := json.Unmarshal(raw, &j); err != nil {
				return err
			}
			if j.TxID == "" { // internal transactions have another shape
				continue
			}
			tx, err := TransactionFromJSON(j)
			if err != nil {
				return err
			}
			for _, ct := range tx.RawData.Contracts {
				if ct.Transfer != nil && ct.Transfer.To == account {
					out = append(out, tx)
					break
				}
			}
		}
		return nil
	})
	return out, err
}

func (c *Client) list(ctx context.Context, path string, q ListQuery, page func(json.RawMessage) error) error {
	v := url.Values{}
	v.Set("only_to", "true")
	v.Set("only_confirmed", "true")
	v.Set("order_by", "block_timestamp,asc")
	v.Set("limit", strconv.Itoa(c.cfg.PageSize))
	if !q.Since.IsZero() {
		v.Set("min_timestamp", strconv.FormatInt(q.Since.UnixMilli(), 10))
	}
	if !q.Contract.IsZero() {
		v.Set("contract_address", q.Contract.String())
	}
	for n := 0; ; n++ {
		if n == c.cfg.MaxPages {
			return fmt.Errorf("%w: %s: more than %d pages", ErrRPC, path, c.cfg.MaxPages)
		}
		b, err := c.do(ctx, http.MethodGet, path, v, nil)
		if err != nil {
			return err
		}
		var ans struct {
			Success *bool           `json:"success"`
			Error   string          `json:"error"`
			Data    json.RawMessage `json:"data"`
			Meta    listMeta        `json:"meta"`
		}
		if err := strictUnmarshal(b, &ans); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrBadResponse, path, err)
		}
		if ans.Success == nil || !*ans.Success {
			return fmt.Errorf("%w: %s: %s", ErrBadResponse, path, clip(ans.Error))
		}
		if len(ans.Data) > 0 && string(ans.Data) != "null" {
			if err := page(ans.Data); err != nil {
				return fmt.Errorf("%w: %s: %w", ErrBadResponse, path, err)
			}
		}
		if ans.Meta.Fingerprint == "" {
			return nil
		}
		// The fingerprint, not meta.links.next: the client only ever talks
		// to the node it was configured with.
		v.Set("fingerprint", ans.Meta.Fingerprint)
	}
}
