package provision

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/aerolithdb/aerolith/internal/testwait"
	"github.com/aerolithdb/aerolith/provisioner"
	awsdrv "github.com/aerolithdb/aerolith/provisioner/aws"
	"github.com/aerolithdb/aerolith/provisioner/cloudinit"
	"github.com/aerolithdb/aerolith/provisioner/local"
)

// TestCloudsimServe: `aerolith cloudsim serve` prints its endpoint, boots
// an instance launched through the EC2 driver (the agent answers on the
// instance's private address), and on SIGTERM exits cleanly having
// stopped that agent.
func TestCloudsimServe(t *testing.T) {
	e := newEnv(t)
	dataDir := filepath.Join(e.state, "sim")
	cmd := e.command("cloudsim", "serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir, "--pending-for", "50ms")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	// A file, not a buffer: the test reads it while the process writes.
	stderr := logFile(filepath.Join(e.state, "cloudsim.log"))
	f, err := os.Create(string(stderr))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd.Stderr = f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	exited := make(chan struct{})
	go func() { waitErr = cmd.Wait(); close(exited) }()
	defer func() {
		cmd.Process.Kill() // a no-op once it exited
		<-exited
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("read the endpoint line: %v (stderr %s)", err, stderr.String())
	}
	fields := strings.Fields(line)
	if len(fields) < 4 || !strings.HasPrefix(fields[3], "http://127.0.0.1:") {
		t.Fatalf("first line %q: want cloudsim: EC2 endpoint http://127.0.0.1:PORT ...", line)
	}
	endpoint := fields[3]

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	drv, err := awsdrv.New(ctx, awsdrv.Config{Region: "eu-west-1", Endpoint: endpoint, MaxBackoff: 50 * time.Millisecond,
		Credentials: credentials.NewStaticCredentialsProvider("AKIAIOSFODNN7EXAMPLE", "secret", "")})
	if err != nil {
		t.Fatal(err)
	}
	// The agent is this test's aerolith binary, served from a file URL.
	sum, err := local.FileSHA256(binary)
	if err != nil {
		t.Fatal(err)
	}
	spec := &provisioner.ClusterSpec{Name: "sim", Cloud: provisioner.AWS, Region: "eu-west-1", Nodes: 1,
		Agent: provisioner.Artifact{URL: "file://" + binary, SHA256: sum}}
	spec.Defaults()
	ud := func(spec *provisioner.ClusterSpec, node string, _ bool) ([]byte, error) {
		return cloudinit.Render(cloudinit.Node{Cluster: spec.Name, NodeID: node, AgentURL: spec.Agent.URL, AgentSHA256: spec.Agent.SHA256,
			Settings: []cloudinit.Setting{{Key: "admin-key", Value: "sim-admin-key-0123456789"}, {Key: "insecure-http", Value: true}}})
	}
	p, err := provisioner.New(provisioner.Config{Driver: drv, UserData: ud, PollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	st, err := p.Apply(ctx, spec)
	if err != nil {
		t.Fatalf("apply through cloudsim serve: %v\n%s", err, stderr.String())
	}
	base := "http://" + st.Nodes[0].PrivateIP + ":7070"
	testwait.For(t, time.Minute, "the booted agent's health", func() error {
		resp, err := http.Get(base + "/health")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("health: %s", resp.Status)
		}
		return nil
	})
	if _, agents := e.count(); agents != 1 {
		t.Fatalf("%d agents run under the simulator's data dir, want 1", agents)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
		if waitErr != nil {
			t.Fatalf("cloudsim serve after SIGTERM: %v\n%s", waitErr, stderr.String())
		}
	case <-ctx.Done():
		t.Fatal("cloudsim serve did not stop after SIGTERM")
	}
	if !strings.Contains(stderr.String(), "stopped every agent") {
		t.Fatalf("stderr: %s", stderr.String())
	}
	if pids := e.processes(); len(pids) > 0 {
		t.Fatalf("processes left after cloudsim serve stopped: %v", pids)
	}
}

// logFile is a log file's path; String returns its content.
type logFile string

func (l logFile) String() string {
	b, _ := os.ReadFile(string(l))
	return string(b)
}
