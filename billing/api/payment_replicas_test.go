package api

import (
	"crypto/ed25519"
	"encoding/json"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/billing/ledger"
	"github.com/aerolithdb/aerolith/billing/payment"
	"github.com/aerolithdb/aerolith/billing/payment/signin"
	"github.com/aerolithdb/aerolith/billing/payment/solana/solanatest"
	"github.com/aerolithdb/aerolith/store"
	"github.com/aerolithdb/aerolith/store/storetest"
)

// TestWalletNonceAcrossReplicas: one signed challenge offered at once to
// two replicas connects once (the other is 409), and after every replica
// restarts the nonce is still used.
func TestWalletNonceAcrossReplicas(t *testing.T) {
	node := solanatest.New()
	defer node.Close()
	merchant := solKey(t)
	pc := payment.Config{Network: payment.Mainnet, Solana: payment.SolanaConfig{RPCURL: node.URL(), Merchant: merchant.PublicKey().String()}}
	if err := pc.Normalize(); err != nil {
		t.Fatal(err)
	}
	pays, err := NewPayments(pc, signin.Config{Domain: signInDomain})
	if err != nil {
		t.Fatal(err)
	}
	c := storetest.NewCluster(t, 3, storetest.WithStateMachine(func(int) store.StateMachine {
		lsm, err := ledger.New(ledger.Config{UsageBucket: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		return lsm
	}))
	c.WaitForLeader()
	servers := func() []*env {
		var out []*env
		for _, nd := range c.Running() {
			srv, err := New(Config{Store: nd.Store, AdminKeys: []string{adminKey}, NodeID: nd.ID, RaftAddr: nd.Addr, HTTPAddr: "127.0.0.1:1",
				Logger: storetest.TestLogger(), Payments: pays})
			if err != nil {
				t.Fatal(err)
			}
			hs := httptest.NewServer(srv.Handler())
			t.Cleanup(hs.Close)
			out = append(out, &env{t: t, st: nd.Store, srv: srv, http: hs, clock: &clock{t: time.Now()}})
		}
		return out
	}
	reps := servers()
	ten := reps[0].tenant("acme", "starter")
	wallet := solKey(t)
	addr := wallet.PublicKey().String()
	var ch signin.Challenge
	reps[1].want(200, "GET", "/api/v1/payment/wallet/challenge?chain=solana&address="+addr+"&tenant_id="+ten.ID, adminKey, nil, &ch)
	proof := map[string]string{"tenant_id": ten.ID, "chain": "solana", "address": addr, "message": ch.Message,
		"signature": signin.SignSolana(ed25519.PrivateKey(wallet), ch.Message)}

	statuses := make([]int, 2)
	var wg sync.WaitGroup
	for i, rep := range reps[1:] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = rep.do("POST", "/api/v1/payment/wallet/connect", adminKey, proof).status
		}()
	}
	wg.Wait()
	if !(statuses[0] == 200 && statuses[1] == 409) && !(statuses[0] == 409 && statuses[1] == 200) {
		t.Fatalf("the same signed challenge on two replicas: %v, want one 200 and one 409", statuses)
	}

	for i := range 3 {
		c.Stop(i)
	}
	for i := range 3 {
		c.Restart(i)
	}
	c.WaitForLeader()
	reps = servers()
	r := reps[2].do("POST", "/api/v1/payment/wallet/connect", adminKey, proof)
	if r.status != 409 {
		t.Fatalf("replay after a restart = %d %s, want 409", r.status, r.body)
	}
	var h History
	if err := json.Unmarshal(reps[0].want(200, "GET", "/api/v1/payment/history?tenant_id="+ten.ID, adminKey, nil, nil).body, &h); err != nil {
		t.Fatal(err)
	}
	if len(h.Wallets) != 1 || h.Wallets[0].Address != addr {
		t.Fatalf("wallets after restart: %+v", h.Wallets)
	}
}
