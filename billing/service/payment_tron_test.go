package service

import (
	"strings"
	"testing"
)

// TestTronPaymentOptions: the Tron options are checked when billing
// starts, and errors name the option.
func TestTronPaymentOptions(t *testing.T) {
	const merchant, usdt = "TKvbTng6MxAt6CeuUCfV213qEKfmzGeFQZ", "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
	tests := []struct {
		name string
		p    PaymentConfig
		want string
	}{
		{"mainnet defaults", PaymentConfig{TronMerchant: merchant}, ""},
		{"own node", PaymentConfig{TronMerchant: merchant, TronAPIURL: "http://127.0.0.1:9", TronUSDT: "TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf"}, ""},
		{"bad merchant", PaymentConfig{TronMerchant: "T123"}, "tron-merchant"},
		{"merchant is the contract", PaymentConfig{TronMerchant: usdt}, "tron-merchant"},
		{"bad url", PaymentConfig{TronMerchant: merchant, TronAPIURL: "ftp://x"}, "tron-api-url"},
		{"testnet needs the contract", PaymentConfig{Network: "testnet", TronMerchant: merchant}, "tron-usdt-contract"},
		{"bad contract", PaymentConfig{TronMerchant: merchant, TronAPIURL: "http://127.0.0.1:9", TronUSDT: "nope"}, "tron-usdt-contract"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			c.Payment = tt.p
			_, err := c.PaymentSettings()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("PaymentSettings = %v", err)
			case tt.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.want)):
				t.Fatalf("PaymentSettings = %v, want an error naming %s", err, tt.want)
			}
		})
	}
}
