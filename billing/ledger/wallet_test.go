package ledger

import (
	"reflect"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

const solWallet = "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU"

func TestWalletCommandsRoundTrip(t *testing.T) {
	f := newFixture(t)
	for _, c := range []Command{
		IssueWalletChallenge{Header: f.h(), Challenge: WalletChallenge{Nonce: "ab12", Chain: "solana", Address: solWallet, Tenant: "t1", Expires: f.now.Add(time.Minute).UTC()}},
		ConnectWallet{Header: f.h(), Nonce: "ab12", Tenant: "t1", Chain: "solana", Address: solWallet},
		DisconnectWallet{Header: f.h(), Tenant: "t1", Chain: "solana", Address: solWallet},
	} {
		b, err := Encode(c)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Decode(b)
		if err != nil {
			t.Fatalf("%s: %v", c.Kind(), err)
		}
		if !reflect.DeepEqual(back, c) {
			t.Errorf("%s round trip:\n got %+v\nwant %+v", c.Kind(), back, c)
		}
		for i := 2; i < len(b); i++ {
			if _, err := Decode(b[:i]); err == nil {
				t.Errorf("%s: prefix of %d/%d bytes decoded", c.Kind(), i, len(b))
			}
		}
		if strings.HasPrefix(c.Kind().String(), "kind(") {
			t.Errorf("kind %d has no name", c.Kind())
		}
	}
}

// TestWalletSignIn: a nonce connects its wallet once; a replay, an
// expired nonce, another tenant's nonce and a wallet connected elsewhere
// are refused; disconnect removes the wallet.
func TestWalletSignIn(t *testing.T) {
	f := newFixture(t)
	f.createTenant("t1", "starter")
	f.createTenant("t2", "starter")
	issue := func(nonce, tenant string, ttl time.Duration) {
		t.Helper()
		f.ok(IssueWalletChallenge{Header: f.h(), Challenge: WalletChallenge{Nonce: nonce, Chain: "solana", Address: solWallet, Tenant: tenant, Expires: f.now.Add(ttl)}})
	}
	issue("n1", "t1", time.Minute)
	f.fail(IssueWalletChallenge{Header: f.h(), Challenge: WalletChallenge{Nonce: "n1", Chain: "solana", Address: solWallet, Tenant: "t1", Expires: f.now.Add(time.Minute)}}, ErrConflict, "already issued")
	f.fail(IssueWalletChallenge{Header: f.h(), Challenge: WalletChallenge{Nonce: "n9", Chain: "eth", Address: solWallet, Tenant: "t1", Expires: f.now.Add(time.Minute)}}, ErrInvalid, "chain")
	f.fail(IssueWalletChallenge{Header: f.h(), Challenge: WalletChallenge{Nonce: "n9", Chain: "solana", Address: solWallet, Tenant: "nobody", Expires: f.now.Add(time.Minute)}}, ErrNotFound)

	f.fail(ConnectWallet{Header: f.h(), Nonce: "n1", Tenant: "t2", Chain: "solana", Address: solWallet}, ErrInvalid, "another tenant")
	f.fail(ConnectWallet{Header: f.h(), Nonce: "n1", Tenant: "t1", Chain: "tron", Address: "TKvbTng6MxAt6CeuUCfV213qEKfmzGeFQZ"}, ErrInvalid, "another wallet")
	r := f.ok(ConnectWallet{Header: f.h(), Nonce: "n1", Tenant: "t1", Chain: "solana", Address: solWallet})
	if r.Wallet == nil || r.Wallet.Tenant != "t1" || !r.Wallet.ConnectedAt.Equal(f.now) {
		t.Fatalf("connect = %+v", r.Wallet)
	}
	f.fail(ConnectWallet{Header: f.h(), Nonce: "n1", Tenant: "t1", Chain: "solana", Address: solWallet}, ErrConflict, "already used")

	issue("n2", "t1", time.Minute)
	f.advance(time.Minute)
	f.fail(ConnectWallet{Header: f.h(), Nonce: "n2", Tenant: "t1", Chain: "solana", Address: solWallet}, ErrState, "expired")

	issue("n3", "t2", time.Minute)
	f.fail(ConnectWallet{Header: f.h(), Nonce: "n3", Tenant: "t2", Chain: "solana", Address: solWallet}, ErrConflict, "another tenant")
	f.view(func(tx *bolt.Tx) error {
		if _, err := GetWalletChallenge(tx, "n2"); err == nil {
			t.Error("the expired nonce n2 was not dropped when n3 was issued")
		}
		ws, err := Wallets(tx, "t1")
		if err != nil || len(ws) != 1 || ws[0].Address != solWallet {
			t.Errorf("wallets of t1 = %+v, %v", ws, err)
		}
		if o := WalletOwner(tx, "solana", solWallet); o != "t1" {
			t.Errorf("owner = %q", o)
		}
		return nil
	})
	f.ok(DisconnectWallet{Header: f.h(), Tenant: "t1", Chain: "solana", Address: solWallet})
	f.fail(DisconnectWallet{Header: f.h(), Tenant: "t1", Chain: "solana", Address: solWallet}, ErrNotFound)
	// Disconnected, the wallet can join t2 with its (still valid) nonce.
	f.ok(ConnectWallet{Header: f.h(), Nonce: "n3", Tenant: "t2", Chain: "solana", Address: solWallet})
	if a := f.lastAudit("t2"); a.Action != "wallet.connected" {
		t.Fatalf("audit %+v", a)
	}
}

// FuzzDecodeWallet decodes arbitrary bytes seeded with the wallet
// commands: Decode never panics, and what it accepts encodes back to the
// same bytes.
func FuzzDecodeWallet(f *testing.F) {
	h := Header{Time: 1, Actor: "a"}
	for _, c := range []Command{
		IssueWalletChallenge{Header: h, Challenge: WalletChallenge{Nonce: "n", Chain: "tron", Address: "T1", Tenant: "t1", Expires: time.Unix(0, 5).UTC()}},
		ConnectWallet{Header: h, Nonce: "n", Tenant: "t1", Chain: "solana", Address: solWallet},
		DisconnectWallet{Header: h, Tenant: "t1", Chain: "solana", Address: solWallet},
	} {
		b, err := Encode(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Decode(b)
		if err != nil {
			return
		}
		switch c.(type) {
		case IssueWalletChallenge, ConnectWallet, DisconnectWallet:
		default:
			return
		}
		back, err := Encode(c)
		if err != nil {
			t.Fatalf("encode %T: %v", c, err)
		}
		c2, err := Decode(back)
		if err != nil || !reflect.DeepEqual(c, c2) {
			t.Fatalf("re-decode %T: %v (%+v vs %+v)", c, err, c, c2)
		}
	})
}
