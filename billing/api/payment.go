package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	sol "github.com/gagliardetto/solana-go"
	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/billing/ledger"
	"github.com/aerolithdb/aerolith/billing/payment"
	"github.com/aerolithdb/aerolith/billing/payment/signin"
	"github.com/aerolithdb/aerolith/billing/payment/tron"
	"github.com/aerolithdb/aerolith/internal/jsonapi"
)

// The crypto payment endpoints (paths kept from the original design):
//
//	GET  /api/v1/payment/wallet/challenge?chain=&address=[&tenant_id=]
//	POST /api/v1/payment/wallet/connect    {chain,address,message,signature[,tenant_id]}
//	POST /api/v1/payment/wallet/disconnect {chain,address[,tenant_id]}
//	GET  /api/v1/payment/balance[?tenant_id=&chain=&address=]
//	POST /api/v1/payment/create            {invoice_id,token[,chain,tenant_id]}
//	POST /api/v1/payment/confirm           {intent_id[,tx_id,tenant_id]}
//	GET  /api/v1/payment/history[?tenant_id=]
//
// A tenant key acts on its own tenant (a tenant_id naming another is
// 404); an admin key must name the tenant (tenant_id), so an admin never
// connects a wallet or pays an invoice for a tenant by accident.

func init() {
	for k, v := range map[string][]string{
		"GET /api/v1/payment/wallet/challenge": {"chain", "address", "tenant_id"},
		"GET /api/v1/payment/balance":          {"tenant_id", "chain", "address"},
		"GET /api/v1/payment/history":          {"tenant_id"},
	} {
		routeQuery[k] = v
	}
	for k, v := range map[string]string{
		"POST /api/v1/payment/wallet/connect":    "wallet.connect",
		"POST /api/v1/payment/wallet/disconnect": "wallet.disconnect",
		"POST /api/v1/payment/create":            "payment.create",
		"POST /api/v1/payment/confirm":           "payment.confirm",
	} {
		auditedRoutes[k] = v
	}
}

// payTenant resolves the tenant a payment request acts on: a tenant key's
// own (tenant_id, when given, must be it), an admin's named one.
func payTenant(p principal, named string) (string, error) {
	switch {
	case p.kind == kindAdmin:
		if named == "" {
			return "", payInvalid("tenant_id: required with an admin key (the tenant to act for)")
		}
		return named, nil
	case p.tenant != "":
		// A tenant's key, whatever its role: its own tenant only.
		if named != "" && named != p.tenant {
			return "", payNotFound("tenant %q not found", named)
		}
		return p.tenant, nil
	}
	return "", payForbidden("payment endpoints need an admin or tenant key")
}

// walletChallenge: GET /api/v1/payment/wallet/challenge → 200 the
// challenge (nonce, domain, issued_at, expires_at and the exact message
// to sign), its nonce recorded in the ledger for the tenant.
func (s *Server) walletChallenge(w http.ResponseWriter, r *http.Request, p principal) error {
	pay, err := s.payments()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	tenant, err := payTenant(p, q.Get("tenant_id"))
	if err != nil {
		return err
	}
	chain, err := signin.ParseChain(q.Get("chain"))
	if err != nil {
		return payInvalid("chain: %v", err)
	}
	address := q.Get("address")
	if address == "" {
		return payInvalid("address: required (the wallet's address)")
	}
	if err := s.view(r, func(tx *bolt.Tx) error { _, err := ledger.GetTenant(tx, tenant); return err }); err != nil {
		return err
	}
	auth, err := s.authenticator(pay, tenant, s.header(p))
	if err != nil {
		return err
	}
	ch, err := auth.Challenge(r.Context(), chain, address)
	if err != nil {
		var le *ledger.Error
		if errors.As(err, &le) {
			return le
		}
		if errors.Is(err, signin.ErrMalformed) || strings.Contains(err.Error(), "address") {
			return payInvalid("address: %v", err)
		}
		return err
	}
	jsonapi.WriteJSON(w, http.StatusOK, ch)
	return nil
}

// connectBody is the body of POST /api/v1/payment/wallet/connect.
type connectBody struct {
	TenantID  string `json:"tenant_id"`
	Chain     string `json:"chain"`
	Address   string `json:"address"`
	Message   string `json:"message"`
	Signature string `json:"signature"`
}

// walletConnect: POST /api/v1/payment/wallet/connect → 200 the wallet
// connected. The signature, domain, validity and nonce are checked
// (billing/payment/signin); the ledger takes the nonce in the command
// that connects the wallet, so a replay on any replica is 409.
func (s *Server) walletConnect(w http.ResponseWriter, r *http.Request, p principal) error {
	pay, err := s.payments()
	if err != nil {
		return err
	}
	var b connectBody
	if err := decodeStrict(r.Body, &b, false); err != nil {
		return err
	}
	tenant, err := payTenant(p, b.TenantID)
	if err != nil {
		return err
	}
	chain, err := signin.ParseChain(b.Chain)
	if err != nil {
		return payInvalid("chain: %v", err)
	}
	for _, f := range []struct{ name, v string }{{"address", b.Address}, {"message", b.Message}, {"signature", b.Signature}} {
		if f.v == "" {
			return payInvalid("%s: required", f.name)
		}
	}
	h := s.header(p)
	auth, err := s.authenticator(pay, tenant, h)
	if err != nil {
		return err
	}
	id, err := auth.Verify(r.Context(), signin.Proof{Chain: chain, Address: b.Address, Message: b.Message, Signature: b.Signature})
	if err != nil {
		return signinError(err)
	}
	m, err := signin.ParseMessage(b.Message)
	if err != nil {
		return signinError(err)
	}
	res, err := s.propose(r.Context(), ledger.ConnectWallet{Header: h, Nonce: m.Nonce, Tenant: tenant, Chain: string(id.Chain), Address: id.Address})
	if err != nil {
		return err
	}
	jsonapi.WriteJSON(w, http.StatusOK, res.Wallet)
	return nil
}

// disconnectBody is the body of POST /api/v1/payment/wallet/disconnect.
type disconnectBody struct {
	TenantID string `json:"tenant_id"`
	Chain    string `json:"chain"`
	Address  string `json:"address"`
}

// walletDisconnect: POST /api/v1/payment/wallet/disconnect → 200 the
// wallet removed; 404 when it is not connected to the tenant.
func (s *Server) walletDisconnect(w http.ResponseWriter, r *http.Request, p principal) error {
	var b disconnectBody
	if err := decodeStrict(r.Body, &b, false); err != nil {
		return err
	}
	tenant, err := payTenant(p, b.TenantID)
	if err != nil {
		return err
	}
	chain, err := signin.ParseChain(b.Chain)
	if err != nil {
		return payInvalid("chain: %v", err)
	}
	if b.Address == "" {
		return payInvalid("address: required")
	}
	res, err := s.propose(r.Context(), ledger.DisconnectWallet{Header: s.header(p), Tenant: tenant, Chain: string(chain), Address: b.Address})
	if err != nil {
		return err
	}
	jsonapi.WriteJSON(w, http.StatusOK, res.Wallet)
	return nil
}

// Balance is one token balance of a connected wallet, read from the
// chain (finalized / solidified state).
type Balance struct {
	Chain   string `json:"chain"`
	Address string `json:"address"`
	Token   string `json:"token"`
	// Amount is in the token's smallest unit; Display is the same in
	// whole tokens, exactly.
	Amount  uint64 `json:"amount"`
	Display string `json:"display"`
}

// balance: GET /api/v1/payment/balance → 200 {"balances":[...]}: each
// connected wallet's (or the one named by chain and address) balances of
// the chain's native coin and stablecoin, read from the chain now.
func (s *Server) balance(w http.ResponseWriter, r *http.Request, p principal) error {
	pay, err := s.payments()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	tenant, err := payTenant(p, q.Get("tenant_id"))
	if err != nil {
		return err
	}
	var wallets []ledger.Wallet
	if err := s.view(r, func(tx *bolt.Tx) (err error) {
		wallets, err = ledger.Wallets(tx, tenant)
		return err
	}); err != nil {
		return err
	}
	if c, a := q.Get("chain"), q.Get("address"); c != "" || a != "" {
		var only []ledger.Wallet
		for _, wl := range wallets {
			if (c == "" || wl.Chain == strings.ToLower(c)) && (a == "" || wl.Address == a) {
				only = append(only, wl)
			}
		}
		if len(only) == 0 {
			return payNotFound("wallet %s %s is not connected to tenant %q", clip(c), clip(a), tenant)
		}
		wallets = only
	}
	ctx, cancel := context.WithTimeout(r.Context(), pay.chainTimeout())
	defer cancel()
	out := []Balance{}
	for _, wl := range wallets {
		bs, err := pay.balances(ctx, wl)
		if err != nil {
			return chainFailure(w, "reading %s wallet %s: %v", wl.Chain, wl.Address, err)
		}
		out = append(out, bs...)
	}
	jsonapi.WriteJSON(w, http.StatusOK, map[string]any{"balances": out})
	return nil
}

// balances reads one wallet's balances from its chain.
func (p *Payments) balances(ctx context.Context, wl ledger.Wallet) ([]Balance, error) {
	var out []Balance
	add := func(t payment.Token, v uint64) {
		out = append(out, Balance{Chain: wl.Chain, Address: wl.Address, Token: string(t), Amount: v, Display: payment.FormatUnits(v, t.Decimals())})
	}
	switch payment.Chain(wl.Chain) {
	case payment.Solana:
		if p.Solana == nil {
			return nil, errors.New("solana is not configured")
		}
		key, err := sol.PublicKeyFromBase58(wl.Address)
		if err != nil {
			return nil, err
		}
		for _, t := range []payment.Token{payment.SOL, payment.USDC} {
			v, err := p.Solana.Balance(ctx, key, t)
			if err != nil {
				return nil, err
			}
			add(t, v)
		}
	case payment.Tron:
		if p.Tron == nil {
			return nil, errors.New("tron is not configured")
		}
		a, err := tron.ParseAddress(wl.Address)
		if err != nil {
			return nil, err
		}
		trx, err := p.Tron.Client().TRXBalance(ctx, a)
		if err != nil {
			return nil, err
		}
		add(payment.TRX, uint64(max(trx, 0)))
		usdt, err := p.Tron.Token(payment.USDT)
		if err != nil {
			return nil, err
		}
		v, err := p.Tron.Client().TRC20Balance(ctx, usdt.Contract, a)
		if err != nil {
			return nil, err
		}
		if !v.IsUint64() {
			return nil, fmt.Errorf("usdt balance %s does not fit 64 bits", v)
		}
		add(payment.USDT, v.Uint64())
	default:
		return nil, fmt.Errorf("chain %q unknown", wl.Chain)
	}
	return out, nil
}
