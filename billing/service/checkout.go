package service

import (
	"github.com/gagliardetto/solana-go/rpc"

	"github.com/aerolithdb/aerolith/billing/api"
	"github.com/aerolithdb/aerolith/billing/payment"
	"github.com/aerolithdb/aerolith/billing/payment/solana"
)

// checkoutConfig is what the hosted checkout page (GET /pay/{intent})
// needs: the Solana Pay URL builder and the chain readers of the
// configured chains, built from the same options as the payment watcher.
func (s *Service) checkoutConfig() (api.CheckoutConfig, error) {
	pc, err := s.cfg.PaymentSettings()
	if err != nil {
		return api.CheckoutConfig{}, err
	}
	var cc api.CheckoutConfig
	if pc.Solana.Merchant != "" {
		v, err := solana.New(pc.Solana, rpc.New(pc.Solana.RPCURL))
		if err != nil {
			return api.CheckoutConfig{}, optionNamed(err)
		}
		cc.Solana = v
		cc.Verifiers = append(cc.Verifiers, payment.Verifier(v))
	}
	return cc, nil
}
