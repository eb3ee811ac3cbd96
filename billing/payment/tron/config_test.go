package tron

import (
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	merchant := "TWvgA4JCNVPqDCFKSs8u1q2vnuy8Tho8Q5"
	s, err := Config{Merchant: merchant}.Validate()
	if err != nil {
		t.Fatal(err)
	}
	if s.Network != Mainnet || s.Client.URL != "https://api.trongrid.io" || s.USDT.Contract != MainnetUSDT || s.Merchant.String() != merchant || !s.TRX.Native() {
		t.Fatalf("Validate(defaults) = %+v", s)
	}
	s, err = Config{Network: Nile, Merchant: merchant, USDTContract: "TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf", APIKey: "k"}.Validate()
	if err != nil || s.Client.URL != "https://nile.trongrid.io" || s.Client.APIKey != "k" {
		t.Fatalf("Validate(nile) = %+v, %v", s, err)
	}
	if _, err := (Config{URL: "http://127.0.0.1:1", Merchant: merchant, USDTContract: "TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf"}).Validate(); err != nil {
		t.Fatalf("Validate(own node, another contract) = %v", err)
	}
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{Network: "devnet", Merchant: merchant}, "tron.network"},
		{Config{}, "tron.merchant: required"},
		{Config{Merchant: "Tnope"}, "tron.merchant"},
		{Config{Merchant: merchant, URL: "ftp://x"}, "tron.url"},
		{Config{Network: Shasta, Merchant: merchant}, "tron.usdt_contract: required on shasta"},
		{Config{Merchant: merchant, USDTContract: "TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf"}, "not Tether's mainnet contract"},
		{Config{Merchant: MainnetUSDT.String()}, "is the USDT contract"},
		{Config{Merchant: merchant, USDTContract: "41zz"}, "tron.usdt_contract"},
	}
	for _, tt := range tests {
		if _, err := tt.cfg.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Validate(%+v) = %v, want an error naming %q", tt.cfg, err, tt.want)
		}
	}
}
