package tenancy

import (
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/agent/auth"
)

func BenchmarkAuthenticateChain(b *testing.B) {
	f := newFakeStore(b)
	a := NewAuthenticator(f, func(string) []string { return nil })
	k, secret := newTestKey(b, "acme", "readwrite")
	f.mustApply(b, CreateKey{Key: k})
	var gen uint64
	f.View(b.Context(), 0, func(tx *bolt.Tx) error { gen = keyGenerationOf(tx); return nil })
	a.UseGeneration(func() (uint64, bool) { return gen, true })
	// leased is a as the agent wires it: with the lease of UseLease, so
	// the cost of the freshness check shows beside "tenancy".
	leased := NewAuthenticator(f, func(string) []string { return nil })
	leased.UseGeneration(func() (uint64, bool) { return gen, true })
	leased.UseLease(Lease)
	admin, _ := auth.NewAdminKey("the-admin-key-0123456789")
	for _, c := range []struct {
		name string
		a    auth.Authenticator
	}{{"tenancy", a}, {"tenancy-lease", leased}, {"chain", auth.Chain{a, admin}}, {"chain-lease", auth.Chain{leased, admin}}, {"admin-first-chain", auth.Chain{admin, a}}, {"admin", admin}} {
		b.Run(c.name, func(b *testing.B) {
			tok := secret
			if c.name == "admin" {
				tok = "the-admin-key-0123456789"
			}
			r := request(tok)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.a.Authenticate(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
