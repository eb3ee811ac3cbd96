package solana

import (
	"errors"
	"strings"
	"testing"

	sol "github.com/gagliardetto/solana-go"

	"github.com/aerolithdb/aerolith/billing/payment"
)

func usdcDecimals(mint sol.PublicKey) (uint8, error) {
	if mint.String() == payment.MainnetUSDCMint {
		return 6, nil
	}
	return 0, errors.New("unknown mint")
}

func TestTransferRequestURL(t *testing.T) {
	recipient := sol.MustPublicKeyFromBase58("mvines9iiHiQTysrwkJjGf2gb9Ex9jXJX8ns3qwf2kN")
	ref := sol.MustPublicKeyFromBase58("82ZJ7nbGpixjeDCmEhUcmwXYfvurzAgGdtSMuHnUgyny")
	mint := sol.MustPublicKeyFromBase58(payment.MainnetUSDCMint)
	r := TransferRequest{Recipient: recipient, Amount: 1_000_100, HasAmount: true, Decimals: 6, SPLToken: mint,
		References: []sol.PublicKey{ref}, Label: "Michael", Message: "Thanks for all the fish", Memo: "OrderId12345"}
	// The example of the Solana Pay specification.
	want := "solana:mvines9iiHiQTysrwkJjGf2gb9Ex9jXJX8ns3qwf2kN?amount=1.0001&spl-token=EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v" +
		"&reference=82ZJ7nbGpixjeDCmEhUcmwXYfvurzAgGdtSMuHnUgyny&label=Michael&message=Thanks+for+all+the+fish&memo=OrderId12345"
	if got := r.String(); got != want {
		t.Fatalf("String() =\n%s\nwant\n%s", got, want)
	}
	back, err := ParseTransferRequest(want, usdcDecimals)
	if err != nil {
		t.Fatal(err)
	}
	if back.String() != want || back.Amount != 1_000_100 {
		t.Fatalf("round trip: %+v", back)
	}
	// The spec's percent-encoded form parses to the same request.
	enc := strings.ReplaceAll(want, "Thanks+for+all+the+fish", "Thanks%20for%20all%20the%20fish")
	if b2, err := ParseTransferRequest(enc, usdcDecimals); err != nil || b2.Message != "Thanks for all the fish" {
		t.Fatalf("percent-encoded: %+v, %v", b2, err)
	}
	sol1, err := ParseTransferRequest("solana:mvines9iiHiQTysrwkJjGf2gb9Ex9jXJX8ns3qwf2kN?amount=0.000000001", nil)
	if err != nil || sol1.Amount != 1 || sol1.Decimals != 9 || !sol1.HasAmount {
		t.Fatalf("1 lamport: %+v, %v", sol1, err)
	}
	bare, err := ParseTransferRequest("solana:mvines9iiHiQTysrwkJjGf2gb9Ex9jXJX8ns3qwf2kN", nil)
	if err != nil || bare.HasAmount {
		t.Fatalf("no amount: %+v, %v", bare, err)
	}
}

func TestParseTransferRequestErrors(t *testing.T) {
	const rcp = "solana:mvines9iiHiQTysrwkJjGf2gb9Ex9jXJX8ns3qwf2kN"
	tests := []struct {
		url, want string
	}{
		{"bitcoin:abc", "solana:"},
		{"solana:notbase58!", "recipient"},
		{"solana:https%3A%2F%2Fexample.com", "recipient"},
		{rcp + "?amount=1.5e3", "amount"},
		{rcp + "?amount=-1", "amount"},
		{rcp + "?amount=.5", "amount"},
		{rcp + "?amount=0.0000000001", "amount"},
		{rcp + "?amount=1&amount=2", "amount given 2 times"},
		{rcp + "?amount=1.0000001&spl-token=" + payment.MainnetUSDCMint, "amount"},
		{rcp + "?spl-token=xyz", "spl-token"},
		{rcp + "?spl-token=So11111111111111111111111111111111111111112", "unknown mint"},
		{rcp + "?reference=abc", "reference"},
		{rcp + "?reference=82ZJ7nbGpixjeDCmEhUcmwXYfvurzAgGdtSMuHnUgyny&reference=82ZJ7nbGpixjeDCmEhUcmwXYfvurzAgGdtSMuHnUgyny", "twice"},
		{rcp + "?memo=%ff", "memo is not UTF-8"},
		{rcp + "?label=" + strings.Repeat("a", 600), "label is 600 bytes"},
		{rcp + "?message=%zz", "query"},
	}
	for _, tc := range tests {
		_, err := ParseTransferRequest(tc.url, usdcDecimals)
		if err == nil || !errors.Is(err, ErrURL) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseTransferRequest(%.60q) error %v, want ErrURL naming %q", tc.url, err, tc.want)
		}
	}
}

func FuzzParseTransferRequest(f *testing.F) {
	for _, s := range []string{
		"solana:mvines9iiHiQTysrwkJjGf2gb9Ex9jXJX8ns3qwf2kN?amount=1.0001&spl-token=EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v&reference=82ZJ7nbGpixjeDCmEhUcmwXYfvurzAgGdtSMuHnUgyny&label=Michael&message=Thanks%20for%20all%20the%20fish&memo=OrderId12345",
		"solana:mvines9iiHiQTysrwkJjGf2gb9Ex9jXJX8ns3qwf2kN?amount=0.000000001",
		"solana:mvines9iiHiQTysrwkJjGf2gb9Ex9jXJX8ns3qwf2kN",
		"solana:?amount=1",
		"solana:mvines9iiHiQTysrwkJjGf2gb9Ex9jXJX8ns3qwf2kN?amount=1&amount=2&reference=x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseTransferRequest(s, usdcDecimals)
		if err != nil {
			if !errors.Is(err, ErrURL) {
				t.Fatalf("error %v does not wrap ErrURL", err)
			}
			return
		}
		// What parses writes back to a URL that parses to the same request.
		again, err := ParseTransferRequest(r.String(), usdcDecimals)
		if err != nil {
			t.Fatalf("re-parse of %q: %v", r.String(), err)
		}
		if again.String() != r.String() {
			t.Fatalf("round trip %q → %q", r.String(), again.String())
		}
	})
}

func FuzzParseMemo(f *testing.F) {
	f.Add([]byte("aerolith inv_1"))
	f.Add([]byte{0xff, 0xfe})
	f.Add([]byte(strings.Repeat("é", 300)))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMemo(b)
		if err != nil {
			if !errors.Is(err, ErrMemo) {
				t.Fatalf("error %v does not wrap ErrMemo", err)
			}
			return
		}
		if m != string(b) || len(m) > MaxMemoLen {
			t.Fatalf("ParseMemo(%q) = %q", b, m)
		}
	})
}

func FuzzParseRawAmount(f *testing.F) {
	for _, s := range []string{"0", "1500000", "18446744073709551615", "18446744073709551616", "01", "-1", "1.5", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseRawAmount(s)
		if err != nil {
			return
		}
		if got := payment.FormatUnits(n, 0); got != s {
			t.Fatalf("ParseRawAmount(%q) = %d, which writes as %q", s, n, got)
		}
	})
}
