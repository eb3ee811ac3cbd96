package security

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/internal/seal"
	"github.com/aerolithdb/aerolith/tests/proctest"
)

// Markers written into document values and indexed values; none may be
// found in any file of an encrypting node's data directory.
const (
	markerSecret = "MARKERSECRET"
	markerCity   = "MARKERCITY"
)

// adminCall makes an authenticated JSON call to an agent.
func adminCall(ctx context.Context, c *proctest.Cluster, method, url string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.AdminKey())
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.API().HTTPClient().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// filesWith lists the files under dir that contain marker.
func filesWith(t *testing.T, dir, marker string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(marker)) {
			out = append(out, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// snapshotFiles counts the raft snapshot data files of a node.
func snapshotFiles(dir string) int {
	m, _ := filepath.Glob(filepath.Join(dir, "store", "snapshots", "snapshots", "*", "state.bin"))
	return len(m)
}

func doc(i int) map[string]any {
	return map[string]any{"city": fmt.Sprintf("%s-%d", markerCity, i%5), "secret": fmt.Sprintf("%s-%d", markerSecret, i), "n": i}
}

// writeDocs indexes "city" in collection enc and writes n documents.
func writeDocs(ctx context.Context, t *testing.T, c *proctest.Cluster, n int) {
	t.Helper()
	if err := adminCall(ctx, c, "POST", c.URL(0)+"/api/v1/collections/enc/indexes", map[string]string{"field": "city"}, nil); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := c.API().Put(ctx, c.URL(i%c.N()), "enc", fmt.Sprintf("d%03d", i), doc(i), 0); err != nil {
			t.Fatalf("put d%03d: %v", i, err)
		}
	}
}

// checkDocs reads every document from node i and queries the index.
func checkDocs(ctx context.Context, t *testing.T, c *proctest.Cluster, i, n int) {
	t.Helper()
	for j := range n {
		d, err := c.API().Get(ctx, c.URL(i), "enc", fmt.Sprintf("d%03d", j), proctest.Linearizable)
		if err != nil {
			t.Fatalf("node %d: get d%03d: %v", i, j, err)
		}
		if !strings.Contains(string(d.Data), fmt.Sprintf(`"%s-%d"`, markerSecret, j)) {
			t.Fatalf("node %d: d%03d = %s", i, j, d.Data)
		}
	}
	var page struct {
		Total int `json:"total"`
	}
	q := map[string]any{"filter": map[string]any{"city": markerCity + "-3"}, "limit": 1000}
	if err := adminCall(ctx, c, "POST", c.URL(i)+"/api/v1/collections/enc/query", q, &page); err != nil {
		t.Fatal(err)
	}
	if want := (n + 1) / 5; page.Total < want-1 || page.Total > want+1 {
		t.Fatalf("node %d: equality query on the encrypted index matched %d, want about %d", i, page.Total, want)
	}
}

// TestPlaintextControl proves the marker check works: a cluster without a
// master key has the markers in its files.
func TestPlaintextControl(t *testing.T) {
	proctest.SkipIfShort(t)
	c := proctest.StartCluster(t, proctest.Config{Binary: binary, Nodes: 1})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	writeDocs(ctx, t, c, 10)
	if err := c.StopAll(ctx); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{markerSecret, markerCity} {
		if len(filesWith(t, c.DataDir(0), m)) == 0 {
			t.Fatalf("plaintext control: %s not found in %s: the check cannot see plaintext", m, c.DataDir(0))
		}
	}
}

// TestEncryptionAtRest: a 3-node cluster with a master key keeps no
// document value or indexed value in plaintext in any file (bbolt state,
// raft-wal segments, snapshots); its data survives a restart of every node
// and a follower whose data directory was wiped comes back from an
// encrypted snapshot; a data key rotation under a write load fails no write
// and ends with every document re-encrypted under the new version.
func TestEncryptionAtRest(t *testing.T) {
	proctest.SkipIfShort(t)
	keyFile := filepath.Join(t.TempDir(), "master.key")
	if _, err := seal.GenerateMasterKey(keyFile); err != nil {
		t.Fatal(err)
	}
	c := proctest.StartCluster(t, proctest.Config{Binary: binary, Nodes: 3, ExtraArgs: []string{
		"--master-key-file", keyFile,
		"--snapshot-threshold", "64", "--trailing-logs", "16", "--snapshot-interval", "100ms",
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const n = 150
	writeDocs(ctx, t, c, n)
	for i := 0; i < c.N(); i++ {
		for snapshotFiles(c.DataDir(i)) == 0 {
			if ctx.Err() != nil {
				t.Fatalf("node %d took no snapshot", i)
			}
			time.Sleep(50 * time.Millisecond) // polling a file written by another process
		}
	}

	t.Run("no plaintext in any file", func(t *testing.T) {
		if err := c.StopAll(ctx); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < c.N(); i++ {
			for _, m := range []string{markerSecret, markerCity} {
				if files := filesWith(t, c.DataDir(i), m); len(files) > 0 {
					t.Fatalf("node %d: %s found in %v", i, m, files)
				}
			}
			if len(filesWith(t, filepath.Join(c.DataDir(i), "store", "raft"), "")) == 0 {
				t.Fatalf("node %d has no raft log files to check", i)
			}
		}
	})

	t.Run("readable after restarting every node", func(t *testing.T) {
		for i := 0; i < c.N(); i++ {
			if err := c.StartNode(i); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.WaitAllReady(ctx); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < c.N(); i++ {
			checkDocs(ctx, t, c, i, n)
		}
	})

	t.Run("wiped follower restores the encrypted snapshot", func(t *testing.T) {
		leader, err := c.WaitLeader(ctx)
		if err != nil {
			t.Fatal(err)
		}
		f := (leader + 1) % c.N()
		if err := c.Stop(ctx, f); err != nil {
			t.Fatal(err)
		}
		if err := os.RemoveAll(c.DataDir(f)); err != nil {
			t.Fatal(err)
		}
		if err := c.StartNode(f); err != nil {
			t.Fatal(err)
		}
		if err := c.WaitReady(ctx, f); err != nil {
			t.Fatal(err)
		}
		checkDocs(ctx, t, c, f, n)
	})

	t.Run("data key rotation under a write load", func(t *testing.T) {
		var failed, written atomic.Int64
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for w := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					id := fmt.Sprintf("load-%d-%d", w, i)
					if _, err := c.API().Put(ctx, c.URL((w+i)%c.N()), "enc", id, map[string]any{"city": markerCity + "-load", "secret": markerSecret + "-" + id}, 0); err != nil {
						failed.Add(1)
						t.Errorf("write %s during rotation: %v", id, err)
						continue
					}
					written.Add(1)
				}
			}()
		}
		for written.Load() < 20 {
			time.Sleep(10 * time.Millisecond) // let the load run before rotating
		}
		var rot struct {
			Rotated []struct {
				Tenant  string `json:"tenant"`
				Version uint32 `json:"version"`
			} `json:"rotated"`
		}
		if err := adminCall(ctx, c, "POST", c.URL(1)+"/api/v1/admin/data-keys/rotate", map[string]string{}, &rot); err != nil {
			t.Fatal(err)
		}
		if len(rot.Rotated) != 1 || rot.Rotated[0].Version != 2 {
			t.Fatalf("rotation = %+v, want one tenant at version 2", rot)
		}
		before := written.Load()
		for written.Load() < before+50 {
			time.Sleep(10 * time.Millisecond) // keep writing after the rotation
		}
		close(stop)
		wg.Wait()
		if failed.Load() > 0 {
			t.Fatalf("%d writes failed during the rotation", failed.Load())
		}
		total := n + int(written.Load())
		var st struct {
			Tenants []struct {
				Tenant    string         `json:"tenant"`
				Current   uint32         `json:"current_version"`
				Documents map[string]int `json:"documents_by_version"`
				Pending   int            `json:"pending"`
			} `json:"tenants"`
		}
		for {
			st.Tenants = nil
			if err := adminCall(ctx, c, "GET", c.URL(0)+"/api/v1/admin/data-keys", nil, &st); err != nil {
				t.Fatal(err)
			}
			if len(st.Tenants) == 1 && st.Tenants[0].Pending == 0 {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("re-encryption did not finish: %+v", st)
			}
			time.Sleep(200 * time.Millisecond) // polling background progress
		}
		if ts := st.Tenants[0]; ts.Current != 2 || ts.Documents["2"] != total || len(ts.Documents) != 1 {
			t.Fatalf("after rotation: %+v, want all %d documents under version 2", ts, total)
		}
		for i := 0; i < c.N(); i++ {
			checkDocs(ctx, t, c, i, n)
		}
	})
}
