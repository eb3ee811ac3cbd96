package discover

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Config
	}{
		{"billing", Config{Provider: "billing", Args: map[string]string{}}},
		{"  provider=billing ", Config{Provider: "billing", Args: map[string]string{}}},
		{"provider=aws region=eu-west-1 tag_key=aerolith-cluster tag_value=prod-1", Config{Provider: "aws", Args: map[string]string{"region": "eu-west-1", "tag_key": "aerolith-cluster", "tag_value": "prod-1"}}},
		{`provider=aws region=us-east-1 tag_key=Name tag_value="db node" endpoint=http://127.0.0.1:4566 port=7071`, Config{Provider: "aws", Args: map[string]string{"region": "us-east-1", "tag_key": "Name", "tag_value": "db node", "endpoint": "http://127.0.0.1:4566", "port": "7071"}}},
		{"tag_value=a=b provider=aws\tregion=r tag_key=k", Config{Provider: "aws", Args: map[string]string{"region": "r", "tag_key": "k", "tag_value": "a=b"}}},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.in, err)
		}
		if got.Provider != tt.want.Provider || len(got.Args) != len(tt.want.Args) {
			t.Fatalf("Parse(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
		for k, v := range tt.want.Args {
			if got.Args[k] != v {
				t.Fatalf("Parse(%q).Args[%s] = %q, want %q", tt.in, k, got.Args[k], v)
			}
		}
		back, err := Parse(got.String())
		if err != nil || back.String() != got.String() {
			t.Fatalf("Parse(String()) of %q = %+v, %v", tt.in, back, err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "discover: empty"},
		{"   ", "discover: empty"},
		{"aws", `"aws" is not key=value`},
		{"region=x", "provider=NAME is required (supported: aws, azure, billing, gcp)"},
		{"provider=ibm project=p", `unknown provider "ibm" (supported: aws, azure, billing, gcp)`},
		{"provider=aws region=r tag_key=k", "provider aws needs tag_value=VALUE"},
		{"provider=aws region= tag_key=k tag_value=v", "provider aws needs region=VALUE"},
		{"provider=aws region=r tag_key=k tag_value=v zone=a", `unknown setting "zone" for provider aws (known: region, tag_key, tag_value, endpoint, port)`},
		{"provider=billing region=r", `provider billing takes no settings, got "region"`},
		{"provider=aws region=r region=s tag_key=k tag_value=v", `"region" is given twice`},
		{"provider=aws region=r tag_key=k tag_value=v port=70000", `port: "70000" is not a port number`},
		{"provider=aws region=r tag_key=k tag_value=v port=x", `port: "x" is not a port number`},
		{"provider=aws region=r tag_key=k tag_value=v endpoint=ftp://x", `endpoint: "ftp://x" is not an http(s) URL`},
		{`provider=aws region=r tag_key=k tag_value="v`, "unterminated quote at character 43"},
		{"provider=aws region=r tag_key=k tag_value=v\x01", "control character"},
		{"=x provider=billing", `"=x" is not key=value`},
		{"provider=aws region=r tag_key=" + strings.Repeat("k", 129) + " tag_value=v", "tag_key: 129 characters, EC2 allows 128"},
		{strings.Repeat("a", maxLen+1), "longer than"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "discover: ") {
			t.Errorf("Parse(%q) = %v, want an error containing %q", tt.in, err, tt.want)
		}
	}
}

// FuzzParse: any string parses or fails with a discover: error; what
// parses renders back to a string that parses to the same config.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"billing", "provider=aws region=r tag_key=k tag_value=v", `provider=aws region=r tag_key=k tag_value="a b\"c" port=1`, "provider=x", "a=b=c", `"`, "provider=billing provider=aws"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "discover: ") {
				t.Fatalf("error %q does not start with discover:", err)
			}
			return
		}
		if _, ok := providers[c.Provider]; !ok {
			t.Fatalf("accepted unknown provider %q", c.Provider)
		}
		back, err := Parse(c.String())
		if err != nil {
			t.Fatalf("Parse(%q) of the rendering of %q: %v", c.String(), s, err)
		}
		if back.String() != c.String() {
			t.Fatalf("round trip %q → %q", c.String(), back.String())
		}
	})
}

// listProvider answers from a function.
type listProvider func() ([]string, error)

func (l listProvider) Addrs(context.Context) ([]string, error) { return l() }
func (listProvider) String() string                            { return "test" }

func TestWait(t *testing.T) {
	var calls atomic.Int32
	p := listProvider(func() ([]string, error) {
		switch calls.Add(1) {
		case 1:
			return nil, errors.New("billing not up yet")
		case 2:
			return []string{"10.0.0.2:7071"}, nil
		}
		return []string{"10.0.0.3:7071", "10.0.0.1:7071", "10.0.0.2:7071"}, nil
	})
	got, err := Wait(context.Background(), p, 3, "10.0.0.1:7071", nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "10.0.0.1:7071,10.0.0.2:7071,10.0.0.3:7071" || calls.Load() != 3 {
		t.Fatalf("Wait = %v after %d calls", got, calls.Load())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := Wait(ctx, listProvider(func() ([]string, error) { return nil, nil }), 2, "a:1", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait that never finds enough = %v, want the context's error", err)
	}
}
