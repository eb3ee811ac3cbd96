package api

// table lists every route with the credentials it accepts (see the
// package documentation).
func (s *Server) table() []route {
	metricsAccess := adminOnly
	if s.cfg.MetricsNoAuth {
		metricsAccess = open
	}
	return []route{
		{"GET", "/health", open, s.health},
		{"GET", "/readyz", open, s.readyz},
		{"GET", "/metrics", metricsAccess, s.serveMetrics},
		{"GET", "/api/v1/cluster/self", open, s.clusterSelf},
		{"GET", "/api/v1/cluster", adminOnly, s.replicas},
		{"GET", "/api/v1/whoami", anyKey, s.whoami},

		{"POST", "/api/v1/tenants", adminOnly, s.createTenant},
		{"GET", "/api/v1/tenants", adminOrTen, s.listTenants},
		{"GET", "/api/v1/tenants/{id}", adminOrTen, s.getTenant},
		{"PATCH", "/api/v1/tenants/{id}", adminOrOwn, s.updateTenant},
		{"DELETE", "/api/v1/tenants/{id}", adminOnly, s.deleteTenant},
		{"POST", "/api/v1/tenants/{id}/suspend", adminOnly, s.suspendTenant},
		{"POST", "/api/v1/tenants/{id}/resume", adminOnly, s.resumeTenant},
		{"GET", "/api/v1/tenants/{id}/audit", adminOrTen, s.tenantAudit},
		{"GET", "/api/v1/tenants/{id}/usage", adminOrTen, s.tenantUsage},
		{"GET", "/api/v1/tenants/{id}/payments", adminOrTen, s.tenantPayments},
		{"GET", "/api/v1/tenants/{id}/policy", anyKey, s.policy},
		{"POST", "/api/v1/tenants/{id}/keys", adminOrOwn, s.createKey},
		{"GET", "/api/v1/tenants/{id}/keys", adminOrOwn, s.listKeys},
		{"DELETE", "/api/v1/tenants/{id}/keys/{key}", adminOrOwn, s.revokeKey},
		{"DELETE", "/api/v1/tenants/{id}/agent-keys/{key}", adminOrOwn, s.revokeAgentKey},
		{"GET", "/api/v1/policy/public-key", anyKey, s.publicKey},

		{"POST", "/api/v1/clusters", adminOrOwn, s.registerCluster},
		{"GET", "/api/v1/clusters/{id}", adminOrOwn | clusterKey, s.getCluster},
		{"DELETE", "/api/v1/clusters/{id}", adminOrOwn, s.deregisterCluster},
		{"POST", "/api/v1/clusters/{id}/enrollment-token", adminOrOwn, s.issueEnrollmentToken},
		{"POST", "/api/v1/clusters/{id}/nodes", clusterKey, s.registerNode},
		{"GET", "/api/v1/clusters/{id}/tenants", adminOrOwn | clusterKey, s.clusterTenants},
		{"POST", "/api/v1/clusters/{id}/tenants/{tenant}", adminOrOwn, s.addClusterTenant},
		{"DELETE", "/api/v1/clusters/{id}/tenants/{tenant}", adminOrOwn, s.removeClusterTenant},

		{"POST", "/api/v1/usage", clusterKey, s.ingest},

		{"GET", "/api/v1/invoices", adminOrTen, s.listInvoices},
		{"GET", "/api/v1/invoices/{id}", adminOrTen, s.getInvoice},
		{"POST", "/api/v1/invoices/{id}/finalize", adminOnly, s.finalizeInvoice},
		{"POST", "/api/v1/invoices/{id}/void", adminOnly, s.voidInvoice},
		{"POST", "/api/v1/invoices/{id}/uncollectible", adminOnly, s.uncollectibleInvoice},
		{"POST", "/api/v1/invoices/{id}/payments", adminOnly, s.payInvoice},

		{"GET", "/api/v1/payment/pricing", anyKey, s.pricing},
		{"GET", "/api/v1/payment/wallet/challenge", adminOrOwn, s.walletChallenge},
		{"POST", "/api/v1/payment/wallet/connect", adminOrOwn, s.walletConnect},
		{"POST", "/api/v1/payment/wallet/disconnect", adminOrOwn, s.walletDisconnect},
		{"GET", "/api/v1/payment/balance", adminOrTen, s.balance},
		{"POST", "/api/v1/payment/create", adminOrOwn, s.createPayment},
		{"POST", "/api/v1/payment/confirm", adminOrOwn, s.confirmPayment},
		{"GET", "/api/v1/payment/history", adminOrTen, s.paymentHistory},

		{"POST", "/api/v1/clusters/{id}/certificates", clusterKey, s.issueCertificate},
		{"GET", "/api/v1/clusters/{id}/ca", adminOrOwn | clusterKey, s.clusterCABundle},

		{"GET", "/pay/{intent}", open, s.checkoutPage},
		{"GET", "/pay/{intent}/status", open, s.checkoutStatusJSON},
		{"GET", "/pay/{intent}/qr.svg", open, s.checkoutQR},
	}
}
