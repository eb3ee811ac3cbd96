package api

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gagliardetto/solana-go/rpc"
	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/billing/ledger"
	"github.com/aerolithdb/aerolith/billing/payment"
	"github.com/aerolithdb/aerolith/billing/payment/signin"
	"github.com/aerolithdb/aerolith/billing/payment/solana"
	"github.com/aerolithdb/aerolith/billing/payment/tron"
	"github.com/aerolithdb/aerolith/store"
)

// Payments is what the /api/v1/payment endpoints need besides the store:
// the chains configured, the price source and the wallet sign-in
// settings. Without it (Config.Payments nil) they answer 503, except
// pricing.
type Payments struct {
	// Config is the normalized payment configuration.
	Config payment.Config
	Prices payment.PriceSource
	// Solana and Tron read their chains; nil when the chain has no
	// merchant configured.
	Solana *solana.Verifier
	Tron   *tron.PaymentVerifier
	// SignIn configures wallet sign-in (Domain at least); its Nonces and
	// Now are the API's (the replicated ledger, Config.Now).
	SignIn signin.Config
	// ChainTimeout bounds one request's chain reads (default 30s).
	ChainTimeout time.Duration
}

// NewPayments builds the verifiers of a normalized configuration, each
// chain's when it has a merchant, and checks the sign-in domain.
func NewPayments(pc payment.Config, in signin.Config) (*Payments, error) {
	p := &Payments{Config: pc, SignIn: in}
	src, err := pc.PriceSource()
	if err != nil {
		return nil, err
	}
	p.Prices = src
	if pc.Solana.Merchant != "" {
		if p.Solana, err = solana.New(pc.Solana, rpc.New(pc.Solana.RPCURL)); err != nil {
			return nil, err
		}
	}
	if pc.Tron.Merchant != "" {
		ts, err := tron.SettingsFrom(pc)
		if err != nil {
			return nil, err
		}
		if p.Tron, err = tron.NewPaymentVerifier(ts); err != nil {
			return nil, err
		}
	}
	in.Nonces = &signin.MemoryNonces{} // checked only; the API's are the ledger's
	if _, err := signin.New(in); err != nil {
		return nil, err
	}
	return p, nil
}

// payments returns the configured payments, or 503.
func (s *Server) payments() (*Payments, error) {
	if s.cfg.Payments == nil {
		return nil, payState("crypto payments are not configured on this billing service (--solana-merchant, --tron-merchant)")
	}
	return s.cfg.Payments, nil
}

func (p *Payments) chainTimeout() time.Duration {
	if p.ChainTimeout > 0 {
		return p.ChainTimeout
	}
	return 30 * time.Second
}

// verifier returns the chain's verifier, or 400 naming the field.
func (p *Payments) verifier(field string, c payment.Chain) (payment.Verifier, error) {
	switch {
	case c == payment.Solana && p.Solana != nil:
		return p.Solana, nil
	case c == payment.Tron && p.Tron != nil:
		return p.Tron, nil
	}
	return nil, payInvalid("%s: %s payments are not configured on this billing service", field, c)
}

// ledgerNonces keeps sign-in nonces in the replicated ledger: Put
// proposes IssueWalletChallenge for the tenant, Take only reads (the
// nonce is consumed by ConnectWallet, in the same command that connects
// the wallet, so it is used once across replicas and restarts).
type ledgerNonces struct {
	s      *Server
	tenant string
	h      ledger.Header
}

func (n ledgerNonces) Put(ctx context.Context, nc signin.Nonce) error {
	_, err := n.s.propose(ctx, ledger.IssueWalletChallenge{Header: n.h, Challenge: ledger.WalletChallenge{
		Nonce: nc.Value, Chain: string(nc.Chain), Address: nc.Address, Tenant: n.tenant, Expires: nc.Expires,
	}})
	return err
}

func (n ledgerNonces) Take(ctx context.Context, value string) (signin.Nonce, error) {
	var ch ledger.WalletChallenge
	err := n.s.cfg.Store.View(ctx, store.Linearizable, func(tx *bolt.Tx) (err error) {
		ch, err = ledger.GetWalletChallenge(tx, value)
		return err
	})
	switch {
	case errors.Is(err, ledger.ErrNotFound):
		return signin.Nonce{}, fmt.Errorf("%w: %s", signin.ErrNonceUnknown, value)
	case err != nil:
		return signin.Nonce{}, err
	case ch.Tenant != n.tenant:
		return signin.Nonce{}, fmt.Errorf("%w: %s was issued for another tenant", signin.ErrNonceUnknown, value)
	}
	return signin.Nonce{Value: ch.Nonce, Chain: signin.Chain(ch.Chain), Address: ch.Address, Expires: ch.Expires}, nil
}

// authenticator is the sign-in authenticator for a tenant's request.
func (s *Server) authenticator(p *Payments, tenant string, h ledger.Header) (*signin.Authenticator, error) {
	cfg := p.SignIn
	cfg.Nonces = ledgerNonces{s: s, tenant: tenant, h: h}
	cfg.Now = s.cfg.Now
	return signin.New(cfg)
}

// signinError maps sign-in refusals to answers naming what was wrong.
func signinError(err error) error {
	switch {
	case errors.Is(err, signin.ErrNonceUnknown):
		return payConflict("message: %v; ask for a new challenge", err)
	case errors.Is(err, signin.ErrExpired), errors.Is(err, signin.ErrNotYetValid):
		return payState("message: %v; ask for a new challenge", err)
	case errors.Is(err, signin.ErrBadSignature):
		return payInvalid("signature: %v", err)
	case errors.Is(err, signin.ErrWrongAddress):
		return payInvalid("address: %v", err)
	case errors.Is(err, signin.ErrUnsupportedChain):
		return payInvalid("chain: %v", err)
	case errors.Is(err, signin.ErrWrongDomain), errors.Is(err, signin.ErrMalformed):
		return payInvalid("message: %v", err)
	}
	return err
}

// TokenPrice is an accepted token's quote now, for the pricing answer.
type TokenPrice struct {
	Token    payment.Token `json:"token"`
	Chain    payment.Chain `json:"chain"`
	Decimals uint8         `json:"decimals"`
	// Rate: Units of the token's smallest unit are worth Cents US cents
	// (integers; stablecoins at par).
	Rate payment.Rate `json:"rate"`
	// Error says why there is no rate (the price source failed).
	Error string `json:"error,omitempty"`
}

// tokenPrices lists the tokens of the configured chains with their rates
// (nil when payments are not configured).
func (s *Server) tokenPrices(ctx context.Context) []TokenPrice {
	p := s.cfg.Payments
	if p == nil {
		return nil
	}
	var out []TokenPrice
	for _, t := range payment.Tokens() {
		if (t.Chain() == payment.Solana && p.Solana == nil) || (t.Chain() == payment.Tron && p.Tron == nil) {
			continue
		}
		tp := TokenPrice{Token: t, Chain: t.Chain(), Decimals: t.Decimals()}
		r, err := payment.RateFor(ctx, p.Prices, t)
		if err != nil {
			tp.Error = err.Error()
		} else {
			tp.Rate = r
		}
		out = append(out, tp)
	}
	return out
}
