package proctest

import (
	"crypto/sha256"
	"os"
	"testing"
)

func TestProcessCPU(t *testing.T) {
	before, err := ProcessCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Burn CPU until the kernel's 10ms tick has counted some of it.
	sum := sha256.Sum256(nil)
	for {
		for range 10000 {
			sum = sha256.Sum256(sum[:])
		}
		after, err := ProcessCPU(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if after < before {
			t.Fatalf("CPU time went back from %v to %v", before, after)
		}
		if after > before {
			return
		}
	}
}

func TestProcessCPUUnknownProcess(t *testing.T) {
	if _, err := ProcessCPU(1 << 30); err == nil {
		t.Error("ProcessCPU of a process that does not exist = nil error")
	}
}
