package audittest

import (
	"context"
	"errors"
	"testing"

	"github.com/aerolithdb/aerolith/internal/audit"
)

func TestRecorder(t *testing.T) {
	var r Recorder
	detail := map[string]string{"role": "read"}
	if err := r.Append(context.Background(), audit.Event{Action: "key.create", Detail: detail}); err != nil {
		t.Fatal(err)
	}
	detail["role"] = "changed"
	r.Append(context.Background(), audit.Event{Action: "auth.failed"})
	if got := r.Actions("key.create"); len(got) != 1 || got[0].Detail["role"] != "read" {
		t.Errorf("Actions(key.create) = %+v", got)
	}
	r.Err = errors.New("disk full")
	if err := r.Append(context.Background(), audit.Event{Action: "x"}); err == nil || len(r.Events()) != 2 {
		t.Errorf("Append with Err = %v, %d events", err, len(r.Events()))
	}
}
