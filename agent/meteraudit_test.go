package agent

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	billingclient "github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/store/storetest"
)

// journalRecord appends a journal record of tenant's writes in the
// meter's format (agent/meter/journal.go): length, body, CRC-32C.
func journalRecord(b []byte, tenant string, writes uint64) []byte {
	start := len(b)
	b = append(b, 0, 0, 0, 0, 1)
	b = binary.AppendUvarint(b, uint64(len(tenant)))
	b = append(b, tenant...)
	for _, v := range []uint64{0, writes, 0, 0, 0, 0} {
		b = binary.AppendUvarint(b, v)
	}
	binary.LittleEndian.PutUint32(b[start:], uint32(len(b)-start-4))
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b[start:], crc32.MakeTable(crc32.Castagnoli)))
}

// TestManagedJournalDamageAudited: an agent that finds a corrupt record
// in the middle of a meter journal at start (a flipped byte) bills the
// records around it, and reports the lost one in its audit log
// (meter.journal_damaged) and its metrics.
func TestManagedJournalDamageAudited(t *testing.T) {
	e := startBilling(t)
	dir := t.TempDir()
	mdir := filepath.Join(dir, meterDir)
	if err := os.MkdirAll(mdir, 0o700); err != nil {
		t.Fatal(err)
	}
	j := journalRecord(nil, e.a.ID, 1)
	bad := journalRecord(nil, e.a.ID, 2)
	bad[len(bad)/2] ^= 0xff
	j = journalRecord(append(j, bad...), e.a.ID, 4)
	if err := os.WriteFile(filepath.Join(mdir, "journal-000000000001"), j, 0o600); err != nil {
		t.Fatal(err)
	}
	c := managedConfig(t, e, dir)
	a := openAgent(t, c)
	base := "http://" + a.HTTPAddr()

	audit, err := os.ReadFile(c.AuditPath())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(audit), `"action":"meter.journal_damaged"`) || !strings.Contains(string(audit), `"corrupt_records_lost":"1"`) {
		t.Fatalf("audit log does not record the lost journal record:\n%s", audit)
	}
	st, body := callAs(t, testKey, http.MethodGet, base+"/metrics", "", nil)
	if st != 200 || !strings.Contains(body, "aerolith_meter_journal_corrupt_records_total 1") {
		t.Fatalf("metrics = %d, want aerolith_meter_journal_corrupt_records_total 1:\n%s", st, body)
	}
	storetest.Eventually(t, waitLimit, func() error {
		s, err := e.admin.Usage(context.Background(), e.a.ID, billingclient.UsageQuery{From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour), Granularity: "hour"})
		if err != nil {
			return err
		}
		if s.Total.Writes != 5 {
			return fmt.Errorf("billed writes %d, want 5 (the records around the corrupt one)", s.Total.Writes)
		}
		return nil
	})
}
