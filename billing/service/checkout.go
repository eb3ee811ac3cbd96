package service

import (
	"github.com/aerolithdb/aerolith/billing/api"
	"github.com/aerolithdb/aerolith/store"
)

// checkoutConfig is what the hosted checkout page (GET /pay/{intent})
// needs: the chain readers of the configured chains, for its confirming
// status, and the Solana one's Solana Pay URLs. It takes them from the
// watcher paymentWatcher builds (never opened, its metrics not
// registered), so the page reads exactly the chains the watcher settles.
func (s *Service) checkoutConfig(st *store.Store) (api.CheckoutConfig, error) {
	w, err := s.paymentWatcher(st, nil)
	if err != nil || w == nil {
		return api.CheckoutConfig{}, err
	}
	var cc api.CheckoutConfig
	for _, v := range w.cfg.Verifiers {
		cc.Verifiers = append(cc.Verifiers, v)
		if sp, ok := v.(api.SolanaPay); ok {
			cc.Solana = sp
		}
	}
	return cc, nil
}
