package jsonapi

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestRegistries(t *testing.T) {
	reg, gat, err := Registries(nil, nil)
	if err != nil || reg == nil || reg != gat.(prometheus.Registerer) {
		t.Fatalf("Registries(nil, nil) = %v, %v, %v; want one private registry", reg, gat, err)
	}
	other := prometheus.NewRegistry()
	if _, g, err := Registries(nil, other); err != nil || g != other {
		t.Fatalf("Registries(nil, g) = %v, %v; want g served", g, err)
	}
	if _, _, err := Registries(prometheus.NewRegistry(), nil); err == nil {
		t.Fatal("Registries(reg, nil) accepted a registerer nothing serves")
	}
}
