package ledger

import (
	"bytes"
	"math"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Granularity is the step of a usage series.
type Granularity string

// The granularities. Days are UTC days.
const (
	Hourly Granularity = "hour"
	Daily  Granularity = "day"
)

// ParseGranularity parses "hour" or "day" ("" means hour).
func ParseGranularity(s string) (Granularity, error) {
	switch s {
	case "", "hour", "hourly":
		return Hourly, nil
	case "day", "daily":
		return Daily, nil
	}
	return "", invalidf("granularity: unknown granularity %q (want hour or day)", clip(s))
}

func (g Granularity) seconds() int64 {
	if g == Daily {
		return 86400
	}
	return 3600
}

// MaxSeriesPoints bounds the points of one usage series.
const MaxSeriesPoints = 10000

// UsagePoint is a tenant's usage over [Start, End).
type UsagePoint struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	Counters
}

// UsageSeries is a tenant's usage over [From, To) in steps of Granularity.
// Points is dense (a point per step, zero when nothing was metered); Total
// is their sum. Figures are saturated at 2^64-1 rather than wrapped.
type UsageSeries struct {
	Tenant      string       `json:"tenant_id"`
	Granularity Granularity  `json:"granularity"`
	From        time.Time    `json:"from"`
	To          time.Time    `json:"to"`
	Points      []UsagePoint `json:"points"`
	Total       Counters     `json:"total"`
}

// Usage returns tenant's metered usage from from to to: from is rounded
// down to the granularity (UTC hours or days) and the series covers every
// step starting before to. Usage counts by the start of its metering
// window, late usage included. Errors: ErrNotFound for an unknown tenant,
// ErrInvalid for a bad granularity, to not after from, or more than
// MaxSeriesPoints steps.
func Usage(tx *bolt.Tx, tenant string, from, to time.Time, g Granularity) (UsageSeries, error) {
	if g != Hourly && g != Daily {
		return UsageSeries{}, invalidf("granularity: unknown granularity %q (want hour or day)", clip(string(g)))
	}
	if _, e := loadTenant(tx, tenant); e != nil {
		return UsageSeries{}, e
	}
	if !to.After(from) {
		return UsageSeries{}, invalidf("to: %s is not after from %s", stamp(to), stamp(from))
	}
	if from.Unix() < 0 {
		return UsageSeries{}, invalidf("from: before 1970")
	}
	step := g.seconds()
	first := from.Unix() - from.Unix()%step
	n := (to.Unix() - first + step - 1) / step
	if to.UnixNano()%1e9 != 0 && (to.Unix()-first)%step == 0 {
		n++ // to lies just after a step boundary, inside the next step
	}
	if n > MaxSeriesPoints {
		return UsageSeries{}, invalidf("to: %d %s steps from from exceed the limit of %d", n, g, MaxSeriesPoints)
	}
	s := UsageSeries{Tenant: tenant, Granularity: g, From: secTime(first), To: secTime(first + n*step), Points: make([]UsagePoint, n)}
	for i := range s.Points {
		s.Points[i].Start = secTime(first + int64(i)*step)
		s.Points[i].End = secTime(first + int64(i+1)*step)
	}
	b := tx.Bucket(bUsage)
	if b == nil {
		return s, nil
	}
	end := tkey(tenant, uint64(first+n*step))
	c := b.Cursor()
	for k, v := c.Seek(tkey(tenant, uint64(first))); k != nil && bytes.Compare(k, end) < 0; k, v = c.Next() {
		u, ok := decodeCounters(v)
		if !ok {
			return UsageSeries{}, internalf("corrupt usage bucket %q", k)
		}
		i := (int64(tkeyValue(k)) - first) / step
		saturatingAdd(&s.Points[i].Counters, u)
		saturatingAdd(&s.Total, u)
	}
	return s, nil
}

func saturatingAdd(dst *Counters, u Counters) {
	df, uf := dst.fields(), u.fields()
	for i := range df {
		if *uf[i] > math.MaxUint64-*df[i] {
			*df[i] = math.MaxUint64
		} else {
			*df[i] += *uf[i]
		}
	}
}
