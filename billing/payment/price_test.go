package payment

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestEndpointPrices(t *testing.T) {
	status, body := http.StatusOK, `{"SOL":"150.25"}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	defer srv.Close()
	src := EndpointPrices{URL: srv.URL}
	ctx := context.Background()
	r, err := RateFor(ctx, src, SOL)
	want, _ := ParseUSDRate(SOL, "150.25")
	if err != nil || r != want {
		t.Fatalf("RateFor(SOL) = %v, %v; want %v", r, err, want)
	}
	if r, err := RateFor(ctx, src, USDT); err != nil || r != ParRate(USDT) {
		t.Fatalf("RateFor(USDT) = %v, %v; want par", r, err)
	}
	if _, err := RateFor(ctx, src, TRX); !errors.Is(err, ErrNoPrice) {
		t.Fatalf("RateFor(TRX) error %v, want ErrNoPrice", err)
	}
	status = http.StatusBadGateway
	if _, err := RateFor(ctx, src, SOL); err == nil {
		t.Fatal("a 502 gave a price")
	}
	if _, err := RateFor(ctx, nil, SOL); !errors.Is(err, ErrNoPrice) {
		t.Fatalf("no source: %v", err)
	}
	fixed, err := (Config{Prices: map[string]string{"TRX": "0.25"}}).PriceSource()
	if err != nil {
		t.Fatal(err)
	}
	if r, err := RateFor(ctx, fixed, TRX); err != nil || r != (Rate{Units: 40_000, Cents: 1}) {
		t.Fatalf("fixed TRX = %v, %v", r, err)
	}
}
