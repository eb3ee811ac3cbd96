package deployment

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/provisioner"
)

func TestStoreKeepsSecretsApart(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	rec := &Record{Spec: provisioner.ClusterSpec{Name: "shop", Cloud: provisioner.Local, Nodes: 3,
		Managed: &provisioner.Managed{BillingURL: "https://b:7080", ClusterID: "cl_1", EnrollmentToken: "aet_secret"}}, Created: time.Now().UTC()}
	sec := &Secrets{AdminKey: "admin-secret", EnrollmentToken: "aet_secret"}
	if err := s.Save(rec, sec); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(s.RecordPath("shop"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "secret") {
		t.Fatalf("the record holds a secret:\n%s", b)
	}
	if rec.Spec.Managed.EnrollmentToken != "aet_secret" {
		t.Fatal("save changed the caller's record")
	}
	st, err := os.Stat(s.SecretsPath("shop"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("secrets file: %v, %v", st, err)
	}
	got, gotSec, err := s.Load("shop")
	if err != nil || got.Spec.Managed.EnrollmentToken != "aet_secret" || gotSec.AdminKey != "admin-secret" {
		t.Fatalf("load = %+v %+v %v", got, gotSec, err)
	}
	names, err := s.Names()
	if err != nil || strings.Join(names, ",") != "shop" {
		t.Fatalf("names = %v, %v", names, err)
	}
	unlock, err := s.Lock("shop")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lock("shop"); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "cluster shop is being changed by another operation of this process") {
		t.Fatalf("second lock: %v", err)
	}
	unlock()
	if err := s.Remove("shop"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Load("shop"); err == nil || !strings.Contains(err.Error(), "no such cluster") {
		t.Fatalf("load after remove: %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(s.Dir, "clusters")); len(ents) != 0 {
		t.Fatalf("remove left %d files", len(ents))
	}
}
