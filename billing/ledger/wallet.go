package ledger

import (
	"bytes"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Wallet sign-in made durable: the challenges (nonces) handed out and the
// wallets connected to tenants live in the replicated state, so a nonce
// is used once across every replica and restart (ConnectWallet takes it
// in the same command that connects the wallet: two connects with one
// nonce, on any replicas, cannot both apply), and a connection survives
// a leader change. The signature itself is checked before proposing
// (billing/payment/signin); the state machine checks what replicas can
// agree on: the nonce exists, is unexpired at the command's time and was
// issued to this wallet for this tenant.

// The kinds of the wallet commands, after the chain payment kinds (values
// are part of the log format).
const (
	KindIssueWalletChallenge Kind = 99
	KindConnectWallet        Kind = 100
	KindDisconnectWallet     Kind = 101
)

// Buckets of wallet sign-in.
var (
	bWalletNonces  = []byte("ledger.wallet_nonces") // nonce → WalletChallenge JSON
	bWallets       = []byte("ledger.wallets")       // tenant \0 chain \0 address → Wallet JSON
	bWalletOwners  = []byte("ledger.wallet_owners") // chain \0 address → tenant
	maxWalletNonce = 128
)

// WalletChallenge is an issued sign-in nonce and whom it was issued to.
type WalletChallenge struct {
	Nonce   string    `json:"nonce"`
	Chain   string    `json:"chain"`
	Address string    `json:"address"`
	Tenant  string    `json:"tenant"`
	Expires time.Time `json:"expires"`
}

// Wallet is a wallet connected to a tenant.
type Wallet struct {
	Tenant      string    `json:"tenant_id"`
	Chain       string    `json:"chain"`
	Address     string    `json:"address"`
	ConnectedAt time.Time `json:"connected_at"`
	ConnectedBy string    `json:"connected_by"`
}

// IssueWalletChallenge records a sign-in nonce issued to a wallet for a
// tenant, valid until Expires. Nonces already expired at the command's
// time are dropped as it applies.
type IssueWalletChallenge struct {
	Header
	Challenge WalletChallenge
}

// ConnectWallet takes the challenge's nonce (once ever: a second use is
// ErrConflict; an expired one ErrState) and connects the wallet it was
// issued to to its tenant. A wallet is connected to one tenant at a time
// (another tenant's is ErrConflict); connecting it again to the same
// tenant refreshes ConnectedAt.
type ConnectWallet struct {
	Header
	Nonce, Tenant, Chain, Address string
}

// DisconnectWallet removes a tenant's wallet; one not connected is
// ErrNotFound.
type DisconnectWallet struct {
	Header
	Tenant, Chain, Address string
}

// Kind methods.
func (IssueWalletChallenge) Kind() Kind { return KindIssueWalletChallenge }
func (ConnectWallet) Kind() Kind        { return KindConnectWallet }
func (DisconnectWallet) Kind() Kind     { return KindDisconnectWallet }

func (c IssueWalletChallenge) encode(e *encoder) {
	ch := c.Challenge
	e.str(ch.Nonce)
	e.str(ch.Chain)
	e.str(ch.Address)
	e.str(ch.Tenant)
	e.i64(ch.Expires.UnixNano())
}

func (c ConnectWallet) encode(e *encoder) {
	e.str(c.Nonce)
	e.str(c.Tenant)
	e.str(c.Chain)
	e.str(c.Address)
}

func (c DisconnectWallet) encode(e *encoder) {
	e.str(c.Tenant)
	e.str(c.Chain)
	e.str(c.Address)
}

// decodeWallet decodes the wallet commands (ok false for other kinds).
func decodeWallet(k Kind, h Header, d *decoder) (Command, bool) {
	switch k {
	case KindIssueWalletChallenge:
		c := IssueWalletChallenge{Header: h}
		c.Challenge.Nonce, c.Challenge.Chain, c.Challenge.Address, c.Challenge.Tenant = d.str(), d.str(), d.str(), d.str()
		c.Challenge.Expires = unixTime(d.i64())
		return c, true
	case KindConnectWallet:
		return ConnectWallet{Header: h, Nonce: d.str(), Tenant: d.str(), Chain: d.str(), Address: d.str()}, true
	case KindDisconnectWallet:
		return DisconnectWallet{Header: h, Tenant: d.str(), Chain: d.str(), Address: d.str()}, true
	}
	return nil, false
}

func walletKindName(k Kind) string {
	switch k {
	case KindIssueWalletChallenge:
		return "issue_wallet_challenge"
	case KindConnectWallet:
		return "connect_wallet"
	case KindDisconnectWallet:
		return "disconnect_wallet"
	}
	return ""
}

// checkWallet validates a chain and address (the signature was checked by
// the proposer; here only the shape replicas store).
func checkWallet(chain, address string) *Error {
	if chain != "solana" && chain != "tron" {
		return invalidf("chain: %q is not a chain (solana, tron)", clip(chain))
	}
	if e := checkID("address", address); e != nil {
		return e
	}
	return nil
}

func walletKey(tenant, chain, address string) []byte {
	return []byte(tenant + "\x00" + chain + "\x00" + address)
}

func ownerKey(chain, address string) []byte { return []byte(chain + "\x00" + address) }

// walletTenant checks a tenant that may act (not deleted).
func (a *applier) walletTenant(id string) *Error {
	if e := checkID("tenant_id", id); e != nil {
		return e
	}
	t, e := loadTenant(a.tx, id)
	if e != nil {
		return e
	}
	if t.Status == StatusDeleted {
		return statef("tenant %q is deleted", id)
	}
	return nil
}

func (a *applier) issueWalletChallenge(c IssueWalletChallenge) Result {
	ch := c.Challenge
	if ch.Nonce == "" || len(ch.Nonce) > maxWalletNonce {
		return Result{Err: invalidf("nonce: required, at most %d bytes", maxWalletNonce)}
	}
	if e := checkID("nonce", ch.Nonce); e != nil {
		return Result{Err: e}
	}
	if e := checkWallet(ch.Chain, ch.Address); e != nil {
		return Result{Err: e}
	}
	if e := a.walletTenant(ch.Tenant); e != nil {
		return Result{Err: e}
	}
	now := a.now()
	if !ch.Expires.After(now) {
		return Result{Err: invalidf("expires: %s is not after the command's time", ch.Expires.UTC().Format(time.RFC3339))}
	}
	if get(a.tx, bWalletNonces, []byte(ch.Nonce)) != nil {
		return Result{Err: conflictf("nonce: %s was already issued", ch.Nonce)}
	}
	// Drop the expired nonces: they can never be used, and challenges are
	// short-lived, so the bucket stays small.
	if b := a.tx.Bucket(bWalletNonces); b != nil {
		var stale [][]byte
		cur := b.Cursor()
		for k, v := cur.First(); k != nil; k, v = cur.Next() {
			var old WalletChallenge
			if err := strictJSON(v, &old); err != nil || !old.Expires.After(now) {
				stale = append(stale, bytes.Clone(k))
			}
		}
		for _, k := range stale {
			del(a.tx, bWalletNonces, k)
		}
	}
	ch.Expires = ch.Expires.UTC()
	putJSON(a.tx, bWalletNonces, []byte(ch.Nonce), ch)
	return Result{WalletChallenge: &ch}
}

func (a *applier) connectWallet(c ConnectWallet) Result {
	if e := checkWallet(c.Chain, c.Address); e != nil {
		return Result{Err: e}
	}
	if e := a.walletTenant(c.Tenant); e != nil {
		return Result{Err: e}
	}
	var ch WalletChallenge
	if ok, e := getJSON(a.tx, bWalletNonces, []byte(c.Nonce), &ch); e != nil {
		return Result{Err: e}
	} else if !ok {
		return Result{Err: conflictf("nonce: %s is unknown or already used; ask for a new challenge", clip(c.Nonce))}
	}
	now := a.now()
	switch {
	case !ch.Expires.After(now):
		return Result{Err: statef("nonce: the challenge expired at %s; ask for a new one", ch.Expires.Format(time.RFC3339))}
	case ch.Tenant != c.Tenant:
		return Result{Err: invalidf("tenant_id: the challenge was issued for another tenant")}
	case ch.Chain != c.Chain || ch.Address != c.Address:
		return Result{Err: invalidf("address: the challenge was issued to another wallet")}
	}
	if owner := get(a.tx, bWalletOwners, ownerKey(c.Chain, c.Address)); owner != nil && string(owner) != c.Tenant {
		return Result{Err: conflictf("address: %s wallet %s is connected to another tenant; disconnect it there first", c.Chain, c.Address)}
	}
	w := Wallet{Tenant: c.Tenant, Chain: c.Chain, Address: c.Address, ConnectedAt: now, ConnectedBy: a.h.Actor}
	del(a.tx, bWalletNonces, []byte(c.Nonce))
	putJSON(a.tx, bWallets, walletKey(c.Tenant, c.Chain, c.Address), w)
	put(a.tx, bWalletOwners, ownerKey(c.Chain, c.Address), []byte(c.Tenant))
	a.audit(c.Tenant, "wallet", c.Chain+":"+c.Address, "wallet.connected", map[string]string{"chain": c.Chain, "address": c.Address})
	return Result{Wallet: &w}
}

func (a *applier) disconnectWallet(c DisconnectWallet) Result {
	if e := checkWallet(c.Chain, c.Address); e != nil {
		return Result{Err: e}
	}
	if e := checkID("tenant_id", c.Tenant); e != nil {
		return Result{Err: e}
	}
	var w Wallet
	if ok, e := getJSON(a.tx, bWallets, walletKey(c.Tenant, c.Chain, c.Address), &w); e != nil {
		return Result{Err: e}
	} else if !ok {
		return Result{Err: notFoundf("wallet %s %s is not connected to tenant %q", c.Chain, c.Address, c.Tenant)}
	}
	del(a.tx, bWallets, walletKey(c.Tenant, c.Chain, c.Address))
	del(a.tx, bWalletOwners, ownerKey(c.Chain, c.Address))
	a.audit(c.Tenant, "wallet", c.Chain+":"+c.Address, "wallet.disconnected", map[string]string{"chain": c.Chain, "address": c.Address})
	return Result{Wallet: &w}
}

// GetWalletChallenge returns an issued nonce not yet used, or
// ErrNotFound (also once it is used; expiry is the caller's to judge).
func GetWalletChallenge(tx *bolt.Tx, nonce string) (WalletChallenge, error) {
	var ch WalletChallenge
	ok, e := getJSON(tx, bWalletNonces, []byte(nonce), &ch)
	if e != nil {
		return ch, e
	}
	if !ok {
		return ch, notFoundf("nonce %s unknown or already used", clip(nonce))
	}
	return ch, nil
}

// Wallets returns a tenant's connected wallets, by chain and address.
func Wallets(tx *bolt.Tx, tenant string) ([]Wallet, error) {
	if _, e := loadTenant(tx, tenant); e != nil {
		return nil, e
	}
	out := []Wallet{}
	b := tx.Bucket(bWallets)
	if b == nil {
		return out, nil
	}
	prefix := tprefix(tenant)
	cur := b.Cursor()
	for k, v := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = cur.Next() {
		var w Wallet
		if err := strictJSON(v, &w); err != nil {
			return nil, internalf("corrupt wallet %q: %v", k, err)
		}
		out = append(out, w)
	}
	return out, nil
}

// WalletOwner returns the tenant a wallet is connected to ("" if none).
func WalletOwner(tx *bolt.Tx, chain, address string) string {
	return string(get(tx, bWalletOwners, ownerKey(strings.ToLower(chain), address)))
}
