package discover

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// ec2Instance is one instance the fake EC2 knows.
type ec2Instance struct {
	id, state, ip string
	tags          map[string]string
}

// fakeEC2 answers DescribeInstances in EC2's Query protocol: a
// form-encoded POST, signed (SigV4; the shape is checked), answered in
// EC2's XML, one instance per page (NextToken), with the filters the
// provider sends applied; throttle makes the first n calls fail with
// RequestLimitExceeded as EC2 does.
type fakeEC2 struct {
	t         *testing.T
	instances []ec2Instance
	mu        sync.Mutex
	throttle  int
	calls     int
}

func (f *fakeEC2) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if r.Method != http.MethodPost || r.ParseForm() != nil {
		ec2Error(w, 400, "InvalidRequest", "want a form-encoded POST")
		return
	}
	if auth := r.Header.Get("Authorization"); !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIDTEST/") || !strings.Contains(auth, "/ec2/aws4_request") || !strings.Contains(auth, "Signature=") {
		ec2Error(w, 401, "AuthFailure", "request not signed with SigV4 for ec2: "+auth)
		return
	}
	if a := r.PostForm.Get("Action"); a != "DescribeInstances" {
		ec2Error(w, 400, "InvalidAction", "unexpected action "+a)
		return
	}
	if f.throttle > 0 {
		f.throttle--
		ec2Error(w, 503, "RequestLimitExceeded", "Request limit exceeded.")
		return
	}
	filters := map[string][]string{}
	for i := 1; r.PostForm.Has("Filter." + strconv.Itoa(i) + ".Name"); i++ {
		p := "Filter." + strconv.Itoa(i)
		for j := 1; r.PostForm.Has(p + ".Value." + strconv.Itoa(j)); j++ {
			filters[r.PostForm.Get(p+".Name")] = append(filters[r.PostForm.Get(p+".Name")], r.PostForm.Get(p+".Value."+strconv.Itoa(j)))
		}
	}
	var match []ec2Instance
	for _, in := range f.instances {
		ok := true
		for name, vals := range filters {
			switch {
			case name == "instance-state-name":
				ok = ok && slices.Contains(vals, in.state)
			case strings.HasPrefix(name, "tag:"):
				ok = ok && slices.Contains(vals, in.tags[strings.TrimPrefix(name, "tag:")])
			default:
				ec2Error(w, 400, "InvalidParameterValue", "unknown filter "+name)
				return
			}
		}
		if ok {
			match = append(match, in)
		}
	}
	start := 0
	if tok := r.PostForm.Get("NextToken"); tok != "" {
		start, _ = strconv.Atoi(tok)
	}
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>req-1</requestId><reservationSet>`)
	if start < len(match) {
		in := match[start]
		fmt.Fprintf(&b, `<item><reservationId>r-%s</reservationId><ownerId>123456789012</ownerId><instancesSet><item><instanceId>%s</instanceId><instanceState><code>16</code><name>%s</name></instanceState>`, in.id, in.id, in.state)
		if in.ip != "" {
			fmt.Fprintf(&b, `<privateIpAddress>%s</privateIpAddress>`, in.ip)
		}
		b.WriteString(`<tagSet>`)
		for k, v := range in.tags {
			fmt.Fprintf(&b, `<item><key>%s</key><value>%s</value></item>`, xmlText(k), xmlText(v))
		}
		b.WriteString(`</tagSet></item></instancesSet></item>`)
	}
	b.WriteString(`</reservationSet>`)
	if start+1 < len(match) {
		fmt.Fprintf(&b, `<nextToken>%d</nextToken>`, start+1)
	}
	b.WriteString(`</DescribeInstancesResponse>`)
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.Write([]byte(b.String()))
}

func xmlText(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// ec2Error writes an error in EC2's XML error format.
func ec2Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors><RequestID>req-err</RequestID></Response>`, code, xmlText(msg))
}

// awsEnv points the SDK's default credential chain at test credentials
// and away from this machine's files and the instance metadata service.
func awsEnv(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "AKIDTEST", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "",
		"AWS_CONFIG_FILE": filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_PROFILE": "", "AWS_REGION": "", "AWS_ENDPOINT_URL": "", "AWS_ENDPOINT_URL_EC2": "",
	} {
		t.Setenv(k, v)
	}
}

func TestAWS(t *testing.T) {
	awsEnv(t)
	tag := map[string]string{"aerolith-cluster": "prod-1"}
	fake := &fakeEC2{t: t, throttle: 1, instances: []ec2Instance{
		{id: "i-1", state: "running", ip: "10.0.0.1", tags: tag},
		{id: "i-2", state: "terminated", ip: "10.0.0.9", tags: tag},
		{id: "i-3", state: "running", ip: "10.0.0.3", tags: map[string]string{"aerolith-cluster": "other"}},
		{id: "i-4", state: "running", ip: "10.0.0.4", tags: tag},
		{id: "i-5", state: "pending", ip: "10.0.0.5", tags: tag},
		{id: "i-6", state: "running", ip: "10.0.0.6", tags: tag},
	}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	c, err := Parse("provider=aws region=eu-west-1 tag_key=aerolith-cluster tag_value=prod-1 endpoint=" + srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewAWS(context.Background(), c, 7071)
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Addrs(context.Background())
	if err != nil {
		t.Fatalf("Addrs: %v", err)
	}
	if strings.Join(got, ",") != "10.0.0.1:7071,10.0.0.4:7071,10.0.0.6:7071" {
		t.Fatalf("Addrs = %v, want the three running tagged instances", got)
	}
	// One throttled call retried by the SDK, then one call per page.
	if fake.calls != 4 {
		t.Fatalf("%d calls to EC2, want 4 (a throttled one, then three one-instance pages)", fake.calls)
	}

	c.Args["port"] = "9000"
	p, err = NewAWS(context.Background(), c, 7071)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := p.Addrs(context.Background()); err != nil || len(got) != 3 || got[0] != "10.0.0.1:9000" {
		t.Fatalf("Addrs with port=9000 = %v, %v", got, err)
	}
}

func TestAWSErrors(t *testing.T) {
	awsEnv(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ec2Error(w, 403, "UnauthorizedOperation", "You are not authorized to perform this operation.")
	}))
	defer srv.Close()
	c, err := Parse("provider=aws region=eu-west-1 tag_key=k tag_value=v endpoint=" + srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewAWS(context.Background(), c, 7071)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Addrs(context.Background()); err == nil || !strings.Contains(err.Error(), "UnauthorizedOperation") {
		t.Fatalf("Addrs = %v, want EC2's error named", err)
	}
	if _, err := NewAWS(context.Background(), c, 0); err == nil || !strings.Contains(err.Error(), "port=N") {
		t.Fatalf("NewAWS without a port = %v", err)
	}
}
