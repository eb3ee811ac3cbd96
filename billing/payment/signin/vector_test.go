package signin

import (
	"encoding/hex"
	"testing"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"

	"github.com/aerolithdb/aerolith/billing/payment/tron"
)

// TestTronMessageVector checks the signMessageV2 digest against a
// signature made by another implementation (mrtnetwork/blockchain_utils'
// TronSigner.signProsonalMessage test: key 4398…8038, message "message"):
// it must recover to that key's address through TronMessageHash, and
// SignTron must make the same bytes.
func TestTronMessageVector(t *testing.T) {
	keyBytes, _ := hex.DecodeString("43985273a3d94eb753fe6acfd7003e88254effce1eb53e2e97b8522558a98038")
	key := secp256k1.PrivKeyFromBytes(keyBytes)
	sig, _ := hex.DecodeString("fde00bc33d78109bc61de314c1c0526a047e22a2aaae473ca84b32d8aa35ed3e03720e05d614087e3d8c6fae63879755b32aa08818a2d4de66fee1a617a971671b")
	got, err := tron.RecoverSigner(TronMessageHash([]byte("message")), sig)
	if err != nil {
		t.Fatal(err)
	}
	if want := tron.PublicKeyAddress(key.PubKey()); got != want {
		t.Fatalf("the reference signature recovers to %s, want %s", got, want)
	}
	// Both sign with RFC 6979 nonces, so the bytes are the same too.
	if ours := SignTron(key, "message"); ours != "0x"+hex.EncodeToString(sig) {
		t.Fatalf("SignTron = %s, want 0x%x", ours, sig)
	}
}
