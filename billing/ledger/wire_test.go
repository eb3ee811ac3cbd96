package ledger

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/billing/rating"
)

// fill sets every exported field of v (a pointer) to a non-zero value, so
// that a field the wire mapping forgets shows up as a difference.
func fill(t *testing.T, v reflect.Value, n *int) {
	t.Helper()
	*n++
	switch v.Kind() {
	case reflect.String:
		v.SetString("s" + string(rune('a'+*n%26)))
	case reflect.Int, reflect.Int64:
		v.SetInt(int64(*n))
	case reflect.Uint64:
		v.SetUint(uint64(*n))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fill(t, s.Index(i), n)
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(t, k, n)
		fill(t, e, n)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Struct:
		switch v.Interface().(type) {
		case time.Time:
			v.Set(reflect.ValueOf(time.Date(2026, 1, 1, 0, 0, *n, *n, time.UTC)))
			return
		case rating.Amount:
			v.Set(reflect.ValueOf(rating.Micros(int64(*n))))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(t, v.Field(i), n)
			}
		}
	default:
		t.Fatalf("fill: unhandled kind %s", v.Kind())
	}
}

// TestWireMatchesStored: the API answered with the stored types' JSON
// before billing/contract existed; the wire types must encode every field
// the same, so clients see no change.
func TestWireMatchesStored(t *testing.T) {
	var (
		tenant  Tenant
		page    TenantPage
		entry   AuditEntry
		node    Node
		inv     Invoice
		pay     Payment
		period  OpenPeriod
		series  UsageSeries
		zeroInv Invoice
		zeroTen Tenant
	)
	n := 0
	for _, p := range []any{&tenant, &page, &entry, &node, &inv, &pay, &period, &series} {
		fill(t, reflect.ValueOf(p).Elem(), &n)
	}
	tests := []struct {
		name         string
		stored, wire any
	}{
		{"tenant", tenant, tenant.Wire()},
		{"tenant page", page, page.Wire()},
		{"audit entry", entry, entry.Wire()},
		{"node", node, node.Wire()},
		{"invoice", inv, inv.Wire()},
		{"payment", pay, pay.Wire()},
		{"open period", period, period.Wire()},
		{"usage series", series, series.Wire()},
		{"zero invoice", zeroInv, zeroInv.Wire()},
		{"zero tenant", zeroTen, zeroTen.Wire()},
	}
	for _, tc := range tests {
		s, err := json.Marshal(tc.stored)
		if err != nil {
			t.Fatal(err)
		}
		w, err := json.Marshal(tc.wire)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(s, w) {
			t.Errorf("%s: wire JSON =\n%s\nwant (stored type's JSON)\n%s", tc.name, w, s)
		}
	}
}
