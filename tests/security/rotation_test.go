package security

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"math/big"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/internal/testwait"
	"github.com/aerolithdb/aerolith/tests/proctest"
)

// httpsServerSerial returns the serial of the certificate the HTTPS API at
// addr presents (verified against pool).
func httpsServerSerial(pool *x509.CertPool, addr string) (*big.Int, error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber, nil
}

// writeLoad writes documents to the leader until stop is closed and counts
// failures.
type writeLoad struct {
	ok, failed atomic.Int64
	firstErr   atomic.Value
	stop       chan struct{}
	wg         sync.WaitGroup
}

func startWriteLoad(ctx context.Context, c *proctest.Cluster, leader int) *writeLoad {
	w := &writeLoad{stop: make(chan struct{})}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		for i := 0; ; i++ {
			select {
			case <-w.stop:
				return
			default:
			}
			if _, err := c.API().Put(ctx, c.URL(leader), "rot", "d"+strconv.Itoa(i), map[string]any{"i": i}, 0); err != nil {
				w.failed.Add(1)
				w.firstErr.CompareAndSwap(nil, err.Error())
			} else {
				w.ok.Add(1)
			}
		}
	}()
	return w
}

// waitWrites waits until the load has n more successful writes than now.
func (w *writeLoad) waitWrites(t *testing.T, n int64) {
	t.Helper()
	target := w.ok.Load() + n
	testwait.For(t, time.Minute, "writes continue", func() error {
		if got := w.ok.Load(); got < target {
			return fmt.Errorf("%d successful writes, want %d", got, target)
		}
		return nil
	})
}

func (w *writeLoad) finish(t *testing.T) {
	t.Helper()
	close(w.stop)
	w.wg.Wait()
	if f := w.failed.Load(); f != 0 {
		t.Fatalf("%d of %d writes failed during rotation; first: %v", f, f+w.ok.Load(), w.firstErr.Load())
	}
	t.Logf("%d writes, none failed", w.ok.Load())
}

// TestRotationBySIGHUP re-issues every node's certificate to the same
// files and sends SIGHUP while writes run: no write fails, and new
// handshakes (raft port and HTTPS) present the new certificates. Polling
// is slowed to an hour so only SIGHUP can have done it.
func TestRotationBySIGHUP(t *testing.T) {
	proctest.SkipIfShort(t)
	c := proctest.StartCluster(t, proctest.Config{Binary: binary, Nodes: 3, TLS: true, ExtraArgs: []string{"--tls-poll-interval", "1h"}})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	leader, err := c.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	probe := probeCert(t, c.CA(), "probe", time.Time{}, 0)
	pool := x509.NewCertPool()
	pool.AddCert(c.CA().Cert)

	w := startWriteLoad(ctx, c, leader)
	defer func() {
		select {
		case <-w.stop:
		default:
			close(w.stop)
			w.wg.Wait()
		}
	}()
	w.waitWrites(t, 20)
	serials := make([]*big.Int, c.N())
	for i := 0; i < c.N(); i++ {
		old, err := raftServerSerial(c.CA(), probe, c.RaftAddr(i))
		if err != nil {
			t.Fatalf("node %d raft handshake before rotation: %v", i, err)
		}
		cert, err := c.ReissueCert(i)
		if err != nil {
			t.Fatal(err)
		}
		if cert.SerialNumber.Cmp(old) == 0 {
			t.Fatal("re-issued certificate has the old serial")
		}
		serials[i] = cert.SerialNumber
		if err := c.Reload(i); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < c.N(); i++ {
		testwait.For(t, 30*time.Second, fmt.Sprintf("node %d serves its new certificate", i), func() error {
			for _, get := range []func() (*big.Int, error){
				func() (*big.Int, error) { return raftServerSerial(c.CA(), probe, c.RaftAddr(i)) },
				func() (*big.Int, error) { return httpsServerSerial(pool, c.HTTPAddr(i)) },
			} {
				got, err := get()
				if err != nil {
					return err
				}
				if got.Cmp(serials[i]) != 0 {
					return fmt.Errorf("serial %v, want %v", got, serials[i])
				}
			}
			return nil
		})
	}
	w.waitWrites(t, 20)
	w.finish(t)
	// Replication still works: a forwarded write and linearizable reads
	// everywhere (new raft and RPC connections use the new certificates).
	follower := (leader + 1) % c.N()
	if _, err := c.API().Put(ctx, c.URL(follower), "rot", "after", map[string]any{"ok": true}, 0); err != nil {
		t.Fatalf("forwarded write after rotation: %v", err)
	}
	for i := 0; i < c.N(); i++ {
		if _, err := c.API().Get(ctx, c.URL(i), "rot", "after", proctest.Linearizable); err != nil {
			t.Fatalf("linearizable read on node %d after rotation: %v", i, err)
		}
	}
}

// TestRotationByPolling re-issues a node's certificate without a signal:
// the agent's file polling picks it up.
func TestRotationByPolling(t *testing.T) {
	proctest.SkipIfShort(t)
	c := proctest.StartCluster(t, proctest.Config{Binary: binary, Nodes: 1, TLS: true, ExtraArgs: []string{"--tls-poll-interval", "200ms"}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w := startWriteLoad(ctx, c, 0)
	defer func() {
		select {
		case <-w.stop:
		default:
			close(w.stop)
			w.wg.Wait()
		}
	}()
	w.waitWrites(t, 10)
	probe := probeCert(t, c.CA(), "probe", time.Time{}, 0)
	cert, err := c.ReissueCert(0)
	if err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 30*time.Second, "polling serves the new certificate", func() error {
		got, err := raftServerSerial(c.CA(), probe, c.RaftAddr(0))
		if err != nil {
			return err
		}
		if got.Cmp(cert.SerialNumber) != 0 {
			return fmt.Errorf("serial %v, want %v", got, cert.SerialNumber)
		}
		return nil
	})
	w.waitWrites(t, 10)
	w.finish(t)
}
