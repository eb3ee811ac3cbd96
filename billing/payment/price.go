package payment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// PriceSource quotes a Rate for a token. Stablecoins are at par whatever
// the source says (RateFor handles them); sources are asked only for SOL and
// TRX.
type PriceSource interface {
	Rate(ctx context.Context, t Token) (Rate, error)
}

// ErrNoPrice is returned when a source has no price for a token.
var ErrNoPrice = errors.New("no price")

// RateFor returns the rate for a token: par for stablecoins, else src's.
func RateFor(ctx context.Context, src PriceSource, t Token) (Rate, error) {
	if t.Chain() == "" {
		return Rate{}, fmt.Errorf("token %q: not accepted", t)
	}
	if t.Stable() {
		return ParRate(t), nil
	}
	if src == nil {
		return Rate{}, fmt.Errorf("%s: %w: no price source configured", t, ErrNoPrice)
	}
	r, err := src.Rate(ctx, t)
	if err != nil {
		return Rate{}, err
	}
	if !r.Valid() {
		return Rate{}, fmt.Errorf("%s: price source gave %s", t, r)
	}
	return r, nil
}

// FixedPrices are configured rates: USD per whole token, decimal strings.
type FixedPrices map[Token]Rate

// NewFixedPrices parses {"SOL": "150.25", "TRX": "0.2471"}.
func NewFixedPrices(usd map[string]string) (FixedPrices, error) {
	out := FixedPrices{}
	for sym, price := range usd {
		t, err := ParseToken(sym)
		if err != nil {
			return nil, fmt.Errorf("prices: %w", err)
		}
		r, err := ParseUSDRate(t, price)
		if err != nil {
			return nil, fmt.Errorf("prices: %w", err)
		}
		out[t] = r
	}
	return out, nil
}

// Rate implements PriceSource.
func (p FixedPrices) Rate(_ context.Context, t Token) (Rate, error) {
	if r, ok := p[t]; ok {
		return r, nil
	}
	return Rate{}, fmt.Errorf("%s: %w: not among the configured prices", t, ErrNoPrice)
}

// EndpointPrices reads prices from an HTTP endpoint answering GET with a
// JSON object of USD prices per whole token, each a decimal string or
// number: {"SOL": "150.25", "TRX": 0.2471}. Numbers are taken as their
// decimal text (json.Number), never through a float.
type EndpointPrices struct {
	URL    string
	Client *http.Client
}

// maxPriceBody bounds the price endpoint's answer.
const maxPriceBody = 64 << 10

// Rate implements PriceSource.
func (p EndpointPrices) Rate(ctx context.Context, t Token) (Rate, error) {
	c := p.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL, nil)
	if err != nil {
		return Rate{}, fmt.Errorf("price endpoint: %w", err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return Rate{}, fmt.Errorf("price endpoint: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPriceBody+1))
	if err != nil {
		return Rate{}, fmt.Errorf("price endpoint: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return Rate{}, fmt.Errorf("price endpoint: status %d", resp.StatusCode)
	}
	prices, err := ParsePrices(body)
	if err != nil {
		return Rate{}, fmt.Errorf("price endpoint: %w", err)
	}
	return prices.Rate(ctx, t)
}

// ParsePrices decodes a price endpoint answer (see EndpointPrices).
// Unknown symbols are ignored; a malformed price of a known one is an
// error.
func ParsePrices(body []byte) (FixedPrices, error) {
	if len(body) > maxPriceBody {
		return nil, fmt.Errorf("answer is larger than %d bytes", maxPriceBody)
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("answer is not a JSON object of prices: %w", err)
	}
	out := FixedPrices{}
	for sym, v := range raw {
		t, err := ParseToken(sym)
		if err != nil {
			continue
		}
		var s string
		switch v := v.(type) {
		case string:
			s = v
		case json.Number:
			s = v.String()
		default:
			return nil, fmt.Errorf("price of %s: want a decimal string or number", t)
		}
		r, err := ParseUSDRate(t, s)
		if err != nil {
			return nil, err
		}
		out[t] = r
	}
	return out, nil
}
