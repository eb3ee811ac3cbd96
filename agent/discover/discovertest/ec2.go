// Package discovertest holds test doubles for agent/discover: a fake EC2
// endpoint answering DescribeInstances in EC2's Query protocol and XML,
// and the AWS environment that points the SDK's default credential chain
// at test credentials.
package discovertest

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Instance is one instance the fake EC2 knows.
type Instance struct {
	ID, State, PrivateIP string
	Tags                 map[string]string
}

// EC2 answers DescribeInstances in EC2's Query protocol: a
// form-encoded POST, signed (SigV4; the shape is checked), answered in
// EC2's XML, one instance per page (NextToken), with the filters the
// provider sends applied; throttle makes the first n calls fail with
// RequestLimitExceeded as EC2 does.
type EC2 struct {
	mu        sync.Mutex
	instances []Instance
	throttle  int
	calls     int
}

// NewEC2 returns a fake EC2 knowing instances; its first throttle calls
// are refused with RequestLimitExceeded.
func NewEC2(throttle int, instances ...Instance) *EC2 {
	return &EC2{instances: instances, throttle: throttle}
}

// Calls is the number of requests served so far.
func (f *EC2) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func (f *EC2) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if r.Method != http.MethodPost || r.ParseForm() != nil {
		Error(w, 400, "InvalidRequest", "want a form-encoded POST")
		return
	}
	if auth := r.Header.Get("Authorization"); !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/") || !strings.Contains(auth, "/ec2/aws4_request") || !strings.Contains(auth, "Signature=") {
		Error(w, 401, "AuthFailure", "request not signed with SigV4 for ec2: "+auth)
		return
	}
	if a := r.PostForm.Get("Action"); a != "DescribeInstances" {
		Error(w, 400, "InvalidAction", "unexpected action "+a)
		return
	}
	if f.throttle > 0 {
		f.throttle--
		Error(w, 503, "RequestLimitExceeded", "Request limit exceeded.")
		return
	}
	filters := map[string][]string{}
	for i := 1; r.PostForm.Has("Filter." + strconv.Itoa(i) + ".Name"); i++ {
		p := "Filter." + strconv.Itoa(i)
		for j := 1; r.PostForm.Has(p + ".Value." + strconv.Itoa(j)); j++ {
			filters[r.PostForm.Get(p+".Name")] = append(filters[r.PostForm.Get(p+".Name")], r.PostForm.Get(p+".Value."+strconv.Itoa(j)))
		}
	}
	var match []Instance
	for _, in := range f.instances {
		ok := true
		for name, vals := range filters {
			switch {
			case name == "instance-state-name":
				ok = ok && slices.Contains(vals, in.State)
			case strings.HasPrefix(name, "tag:"):
				ok = ok && slices.Contains(vals, in.Tags[strings.TrimPrefix(name, "tag:")])
			default:
				Error(w, 400, "InvalidParameterValue", "unknown filter "+name)
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
		fmt.Fprintf(&b, `<item><reservationId>r-%s</reservationId><ownerId>123456789012</ownerId><instancesSet><item><instanceId>%s</instanceId><instanceState><code>16</code><name>%s</name></instanceState>`, in.ID, in.ID, in.State)
		if in.PrivateIP != "" {
			fmt.Fprintf(&b, `<privateIpAddress>%s</privateIpAddress>`, in.PrivateIP)
		}
		b.WriteString(`<tagSet>`)
		for k, v := range in.Tags {
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

// Error writes an error in EC2's XML error format.
func Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors><RequestID>req-err</RequestID></Response>`, code, xmlText(msg))
}

// Env points the SDK's default credential chain at test credentials
// and away from this machine's files and the instance metadata service.
func Env(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "AWS_SESSION_TOKEN": "",
		"AWS_CONFIG_FILE": filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_PROFILE": "", "AWS_REGION": "", "AWS_ENDPOINT_URL": "", "AWS_ENDPOINT_URL_EC2": "",
	} {
		t.Setenv(k, v)
	}
}
