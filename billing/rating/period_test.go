package rating

import (
	"errors"
	"math"
	"testing"
	"time"
)

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func TestMonth(t *testing.T) {
	tests := []struct {
		at         time.Time
		start, end time.Time
		seconds    int64
	}{
		{time.Date(2026, 3, 15, 13, 4, 5, 6, time.UTC), date(2026, 3, 1), date(2026, 4, 1), 31 * 86400},
		{date(2024, 2, 29), date(2024, 2, 1), date(2024, 3, 1), 29 * 86400},
		{date(2025, 2, 1), date(2025, 2, 1), date(2025, 3, 1), 28 * 86400},
		{time.Date(2025, 12, 31, 23, 59, 59, 0, time.UTC), date(2025, 12, 1), date(2026, 1, 1), 31 * 86400},
		// 2026-01-01 01:00 in UTC+3 is still December 2025 in UTC.
		{time.Date(2026, 1, 1, 1, 0, 0, 0, time.FixedZone("X", 3*3600)), date(2025, 12, 1), date(2026, 1, 1), 31 * 86400},
	}
	for _, tt := range tests {
		p := Month(tt.at)
		if !p.Start.Equal(tt.start) || !p.End.Equal(tt.end) || !p.CycleStart.Equal(tt.start) || !p.CycleEnd.Equal(tt.end) {
			t.Errorf("Month(%s) = %+v, want %s to %s", tt.at, p, tt.start, tt.end)
		}
		used, total, err := p.Seconds()
		if err != nil || used != tt.seconds || total != tt.seconds || !p.Whole() {
			t.Errorf("Month(%s).Seconds() = %d, %d, %v, want %d both; Whole %v", tt.at, used, total, err, tt.seconds, p.Whole())
		}
	}
}

func TestPeriodErrors(t *testing.T) {
	m := Month(date(2026, 4, 10))
	tests := []struct {
		name string
		p    Period
		want string
	}{
		{"zero", Period{}, "invalid rating input: period: start, end, cycle start and cycle end are all required"},
		{"empty", Period{Start: date(2026, 4, 2), End: date(2026, 4, 2), CycleStart: m.CycleStart, CycleEnd: m.CycleEnd},
			"invalid rating input: period: end 2026-04-02T00:00:00Z is not after start 2026-04-02T00:00:00Z (by whole seconds)"},
		{"sub-second", Period{Start: date(2026, 4, 2), End: date(2026, 4, 2).Add(999 * time.Millisecond), CycleStart: m.CycleStart, CycleEnd: m.CycleEnd},
			"invalid rating input: period: end 2026-04-02T00:00:00Z is not after start 2026-04-02T00:00:00Z (by whole seconds)"},
		{"before cycle", Period{Start: date(2026, 3, 31), End: date(2026, 4, 2), CycleStart: m.CycleStart, CycleEnd: m.CycleEnd},
			"invalid rating input: period: 2026-03-31T00:00:00Z to 2026-04-02T00:00:00Z is not inside the cycle 2026-04-01T00:00:00Z to 2026-05-01T00:00:00Z"},
		{"after cycle", Period{Start: date(2026, 4, 30), End: date(2026, 5, 2), CycleStart: m.CycleStart, CycleEnd: m.CycleEnd},
			"invalid rating input: period: 2026-04-30T00:00:00Z to 2026-05-02T00:00:00Z is not inside the cycle 2026-04-01T00:00:00Z to 2026-05-01T00:00:00Z"},
	}
	for _, tt := range tests {
		_, _, err := tt.p.Seconds()
		if err == nil || err.Error() != tt.want || !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Seconds() = %v, want %s", tt.name, err, tt.want)
		}
	}
}

func TestProrate(t *testing.T) {
	const day = 24 * time.Hour
	tests := []struct {
		name        string
		amount      int64
		used, total time.Duration
		want        Amount
		cents       int64
	}{
		{"whole", 10_000_000, 30 * day, 30 * day, Micros(10_000_000), 1000},
		{"none", 10_000_000, 0, 30 * day, Micros(0), 0},
		{"half", 10_000_000, 15 * day, 30 * day, Micros(5_000_000), 500},
		{"a third", 10_000_000, 10 * day, 30 * day, frac(10_000_000, 3), 333},
		{"two thirds rounds up", 10_000_000, 20 * day, 30 * day, frac(20_000_000, 3), 667},
		{"one second of 31 days", 200_000_000, time.Second, 31 * day, frac(200_000_000, 31*86400), 0},
		{"half cent exactly", 10_000, 1 * time.Second, 2 * time.Second, Micros(5000), 1},
		{"sub-second truncated", 10_000_000, 1500 * time.Millisecond, 3 * time.Second, frac(10_000_000, 3), 333},
		{"credit of a third", -10_000_000, 10 * day, 30 * day, frac(-10_000_000, 3), -333},
		{"credit half cent away from zero", -10_000, 1 * time.Second, 2 * time.Second, Micros(-5000), -1},
		{"huge amount", math.MaxInt64, 1 * time.Second, 3 * time.Second, frac(math.MaxInt64, 3), 307445734561826},
	}
	for _, tt := range tests {
		got, err := Prorate(tt.amount, tt.used, tt.total)
		if err != nil || got.Cmp(tt.want) != 0 {
			t.Errorf("%s: Prorate = %s, %v, want %s", tt.name, got, err, tt.want)
			continue
		}
		if c, err := got.Cents(); err != nil || c != tt.cents {
			t.Errorf("%s: Prorate(...).Cents() = %d, %v, want %d", tt.name, c, err, tt.cents)
		}
	}
}

func TestProrateErrors(t *testing.T) {
	tests := []struct {
		used, total time.Duration
		want        string
	}{
		{0, 0, "invalid rating input: prorate: total 0s is less than one second"},
		{0, 999 * time.Millisecond, "invalid rating input: prorate: total 999ms is less than one second"},
		{-time.Second, time.Hour, "invalid rating input: prorate: used -1s is negative"},
		{2 * time.Hour, time.Hour, "invalid rating input: prorate: used 2h0m0s exceeds total 1h0m0s"},
	}
	for _, tt := range tests {
		_, err := Prorate(100, tt.used, tt.total)
		if err == nil || err.Error() != tt.want || !errors.Is(err, ErrInvalid) {
			t.Errorf("Prorate(100, %s, %s) = %v, want %s", tt.used, tt.total, err, tt.want)
		}
	}
}
