package config

import (
	"bytes"
	"encoding/base64"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/aerolithdb/aerolith/internal/settings/settingstest"
)

func load(t *testing.T, args []string, env map[string]string) (Config, error) {
	t.Helper()
	return settingstest.Load(t, "agent", RegisterFlags, Load, args, env)
}

func TestPrecedence(t *testing.T) {
	file := settingstest.WriteFile(t, "agent.yaml", `
node-id: from-file
data_dir: /file/dir
http-addr: 127.0.0.1:8000
bootstrap_expect: 5
join: [a:1, b:2]
log-level: debug
`)
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want func(*Config)
	}{
		{
			name: "defaults only",
			want: func(c *Config) {},
		},
		{
			name: "file over default",
			args: []string{"--config", file},
			want: func(c *Config) {
				c.NodeID, c.DataDir, c.HTTPAddr, c.BootstrapExpect = "from-file", "/file/dir", "127.0.0.1:8000", 5
				c.Join, c.LogLevel = []string{"a:1", "b:2"}, "debug"
			},
		},
		{
			name: "file from env",
			env:  map[string]string{"AEROLITH_CONFIG": file},
			want: func(c *Config) {
				c.NodeID, c.DataDir, c.HTTPAddr, c.BootstrapExpect = "from-file", "/file/dir", "127.0.0.1:8000", 5
				c.Join, c.LogLevel = []string{"a:1", "b:2"}, "debug"
			},
		},
		{
			name: "env over file",
			args: []string{"--config", file},
			env:  map[string]string{"AEROLITH_NODE_ID": "from-env", "AEROLITH_BOOTSTRAP_EXPECT": "3", "AEROLITH_JOIN": "x:1,y:2", "AEROLITH_INSECURE_NO_AUTH": "true"},
			want: func(c *Config) {
				c.NodeID, c.DataDir, c.HTTPAddr, c.BootstrapExpect = "from-env", "/file/dir", "127.0.0.1:8000", 3
				c.Join, c.LogLevel, c.InsecureNoAuth = []string{"x:1", "y:2"}, "debug", true
			},
		},
		{
			name: "empty env counts as unset",
			args: []string{"--config", file},
			env:  map[string]string{"AEROLITH_NODE_ID": ""},
			want: func(c *Config) {
				c.NodeID, c.DataDir, c.HTTPAddr, c.BootstrapExpect = "from-file", "/file/dir", "127.0.0.1:8000", 5
				c.Join, c.LogLevel = []string{"a:1", "b:2"}, "debug"
			},
		},
		{
			name: "flag over env over file",
			args: []string{"--config", file, "--node-id", "from-flag", "--bootstrap-expect=1", "--join", "p:1", "--join", "q:2,r:3", "--insecure-no-auth"},
			env:  map[string]string{"AEROLITH_NODE_ID": "from-env", "AEROLITH_BOOTSTRAP_EXPECT": "3", "AEROLITH_DATA_DIR": "/env/dir"},
			want: func(c *Config) {
				c.NodeID, c.DataDir, c.HTTPAddr, c.BootstrapExpect = "from-flag", "/env/dir", "127.0.0.1:8000", 1
				c.Join, c.LogLevel, c.InsecureNoAuth = []string{"p:1", "q:2", "r:3"}, "debug", true
			},
		},
		{
			name: "flag false overrides env true",
			args: []string{"--insecure-no-auth=false"},
			env:  map[string]string{"AEROLITH_INSECURE_NO_AUTH": "1"},
			want: func(c *Config) {},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := load(t, tt.args, tt.env)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			want := Default()
			tt.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("Load() =\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	settingstest.CheckLoadErrors(t, []settingstest.LoadError{
		{Name: "flag not an int", Args: []string{"--bootstrap-expect", "three"}, Want: `bootstrap-expect: "three" is not an integer`},
		{Name: "env not an int", Env: map[string]string{"AEROLITH_BOOTSTRAP_EXPECT": "x"}, Want: "AEROLITH_BOOTSTRAP_EXPECT: bootstrap-expect"},
		{Name: "env not a bool", Env: map[string]string{"AEROLITH_INSECURE_NO_AUTH": "maybe"}, Want: "insecure-no-auth: \"maybe\" is not a boolean"},
		{Name: "unknown file key", File: "nodeid: x\n", Want: `unknown key "nodeid"`},
		{Name: "file list for scalar", File: "node-id: [a, b]\n", Want: "node-id: want a single value"},
		{Name: "file duplicate spellings", File: "node-id: a\nnode_id: b\n", Want: "both set node-id"},
		{Name: "file bad yaml", File: "node-id: [\n", Want: "config file"},
		{Name: "file missing env ref", File: "admin-key: ${NOPE_NOT_SET}\n", Want: "NOPE_NOT_SET referenced but not set"},
		{Name: "missing file", Args: []string{"--config", "/does/not/exist.yaml"}, Want: "no such file"},
	}, load)
}

func TestFileEnvExpansion(t *testing.T) {
	file := settingstest.WriteFile(t, "c.yaml", "admin-key: ${MY_KEY}\nadvertise: 10.0.0.1\n")
	got, err := load(t, []string{"--config", file}, map[string]string{"MY_KEY": "k$literal"})
	if err != nil {
		t.Fatal(err)
	}
	if got.AdminKey != "k$literal" || got.Advertise != "10.0.0.1" {
		t.Fatalf("got AdminKey %q Advertise %q", got.AdminKey, got.Advertise)
	}
}

// testKey is a 32-byte key (bytes 0xfb, 0xff, ... so that the two
// base64 alphabets differ) in both encodings.
var (
	testKeyBytes = bytes.Repeat([]byte{0xfb, 0xff}, 16)
	testKeyStd   = base64.StdEncoding.EncodeToString(testKeyBytes)
	testKeyURL   = base64.RawURLEncoding.EncodeToString(testKeyBytes)
)

func TestPolicyKey(t *testing.T) {
	for _, s := range []string{testKeyStd, testKeyURL, base64.RawStdEncoding.EncodeToString(testKeyBytes)} {
		c := Config{BillingPublicKey: s}
		k, err := c.PolicyKey()
		if err != nil || !bytes.Equal(k, testKeyBytes) {
			t.Fatalf("PolicyKey(%q) = %x, %v", s, k, err)
		}
	}
	if k, err := (&Config{}).PolicyKey(); k != nil || err != nil {
		t.Fatalf("PolicyKey() unset = %x, %v", k, err)
	}
}

func TestManagedOptions(t *testing.T) {
	file := settingstest.WriteFile(t, "agent.yaml", "billing_url: http://file:7080\nmeter-window: 30s\npolicy_refresh: 2m\n")
	got, err := load(t, []string{"--config", file, "--enrollment-token", "aet_flag"}, map[string]string{"AEROLITH_BILLING_PUBLIC_KEY": testKeyStd, "AEROLITH_METER_WINDOW": "15s"})
	if err != nil {
		t.Fatal(err)
	}
	if got.BillingURL != "http://file:7080" || got.EnrollmentToken != "aet_flag" || got.BillingPublicKey != testKeyStd ||
		got.MeterWindow != 15*time.Second || got.PolicyRefresh != 2*time.Minute || !got.Managed() {
		t.Fatalf("Load() = %+v", got)
	}
	def := Default()
	if def.MeterWindow != 10*time.Second || def.PolicyRefresh != 30*time.Second || def.Managed() {
		t.Fatalf("Default() = %+v", def)
	}
	if _, err := load(t, []string{"--meter-window", "soon"}, nil); err == nil || !strings.Contains(err.Error(), "meter-window") {
		t.Fatalf("bad duration: %v", err)
	}
}

func valid() Config {
	c := Default()
	c.DataDir = "/tmp/x"
	c.AdminKey = "key"
	c.InsecureHTTP = true
	return c
}

func TestValidate(t *testing.T) {
	existing := settingstest.WriteFile(t, "cert.pem", "x")
	tests := []struct {
		name    string
		mod     func(*Config)
		wantErr string // "" = valid
	}{
		{"valid", func(c *Config) {}, ""},
		{"insecure without key", func(c *Config) { c.AdminKey, c.InsecureNoAuth = "", true }, ""},
		{"no data dir", func(c *Config) { c.DataDir = "" }, "data-dir: required"},
		{"bad node id", func(c *Config) { c.NodeID = "a/b" }, "node-id: "},
		{"bad http addr", func(c *Config) { c.HTTPAddr = "7070" }, "http-addr: "},
		{"bad raft port", func(c *Config) { c.RaftAddr = ":99999" }, "raft-addr: "},
		{"same ports", func(c *Config) { c.HTTPAddr = ":7071" }, "http-addr: :7071 is also the raft-addr"},
		{"pprof addr", func(c *Config) { c.PprofAddr = "127.0.0.1:6060" }, ""},
		{"bad pprof addr", func(c *Config) { c.PprofAddr = "6060" }, "pprof-addr: "},
		{"negative bootstrap", func(c *Config) { c.BootstrapExpect = -1 }, "bootstrap-expect: must be >= 0"},
		{"bootstrap without join", func(c *Config) { c.BootstrapExpect = 3 }, "join: required with bootstrap-expect 3"},
		{"bad join", func(c *Config) { c.Join = []string{"nohost"} }, `join: "nohost"`},
		{"discover aws", func(c *Config) {
			c.Discover, c.BootstrapExpect, c.RaftAddr = "provider=aws region=r tag_key=k tag_value=v", 3, "10.0.0.1:7071"
		}, ""},
		{"discover bad string", func(c *Config) { c.Discover, c.BootstrapExpect = "provider=aws tag=x", 3 }, `discover: unknown setting "tag" for provider aws`},
		{"discover with join", func(c *Config) {
			c.Discover, c.BootstrapExpect, c.Join = "provider=aws region=r tag_key=k tag_value=v", 3, []string{"127.0.0.1:7071"}
		}, "discover: cannot be combined with join"},
		{"discover with a negative bootstrap-expect", func(c *Config) {
			c.Discover, c.BootstrapExpect = "provider=aws region=r tag_key=k tag_value=v", -1
		}, "bootstrap-expect: must not be negative"},
		{"discover billing unmanaged", func(c *Config) { c.Discover, c.BootstrapExpect = "billing", 3 }, "discover: billing needs billing-url"},
		{"discover billing", func(c *Config) {
			c.Discover, c.BootstrapExpect, c.BillingURL, c.EnrollmentToken, c.RaftAddr = "billing", 3, "http://b", "t", "10.0.0.1:7071"
		}, ""},
		{"discover on all interfaces", func(c *Config) {
			c.Discover, c.BootstrapExpect = "provider=aws region=r tag_key=k tag_value=v", 3
		}, "advertise: required with discover when listening on all interfaces"},
		{"tls bootstrap", func(c *Config) {
			c.InsecureHTTP, c.TLSBootstrap, c.BillingURL, c.EnrollmentToken = false, true, "https://b", "t"
		}, ""},
		{"tls bootstrap with further names", func(c *Config) {
			c.InsecureHTTP, c.TLSBootstrap, c.BillingURL, c.EnrollmentToken = false, true, "https://b", "t"
			c.TLSBootstrapSAN = []string{"db.ns.svc", "db.ns.svc.cluster.local", "10.0.0.9", "::1"}
		}, ""},
		{"tls bootstrap san with a port", func(c *Config) {
			c.InsecureHTTP, c.TLSBootstrap, c.BillingURL, c.EnrollmentToken = false, true, "https://b", "t"
			c.TLSBootstrapSAN = []string{"db.ns.svc:7070"}
		}, `tls-bootstrap-san: "db.ns.svc:7070" is not a DNS name or IP address`},
		{"tls bootstrap san too many", func(c *Config) {
			c.InsecureHTTP, c.TLSBootstrap, c.BillingURL, c.EnrollmentToken = false, true, "https://b", "t"
			c.TLSBootstrapSAN = make([]string, MaxTLSBootstrapSAN+1)
		}, "tls-bootstrap-san: 13 names, at most 12"},
		{"tls bootstrap san without bootstrap", func(c *Config) { c.TLSBootstrapSAN = []string{"db"} }, "tls-bootstrap-san: only with tls-bootstrap"},
		{"tls bootstrap unmanaged", func(c *Config) { c.InsecureHTTP, c.TLSBootstrap = false, true }, "tls-bootstrap: needs billing-url"},
		{"tls bootstrap and files", func(c *Config) {
			c.InsecureHTTP, c.TLSBootstrap, c.BillingURL, c.EnrollmentToken, c.TLSCert = false, true, "https://b", "t", existing
		}, "tls-bootstrap: cannot be combined with tls-cert"},
		{"tls bootstrap and insecure-http", func(c *Config) { c.TLSBootstrap, c.BillingURL, c.EnrollmentToken = true, "https://b", "t" }, "tls-bootstrap: cannot be combined with insecure-http"},
		{"tls bootstrap with http billing", func(c *Config) {
			c.InsecureHTTP, c.TLSBootstrap, c.BillingURL, c.EnrollmentToken = false, true, "http://b", "t"
		}, `billing-url: "http://b" is plain http`},
		{"no key", func(c *Config) { c.AdminKey = "" }, "admin-key: required"},
		{"key and insecure", func(c *Config) { c.InsecureNoAuth = true }, "insecure-no-auth: cannot be combined"},
		{"key with space", func(c *Config) { c.AdminKey = "a b" }, "admin-key: must not contain whitespace"},
		{"bad billing url", func(c *Config) { c.BillingURL = "ftp://x"; c.EnrollmentToken = "aet_x" }, "billing-url: "},
		{"managed", func(c *Config) { c.BillingURL = "http://b1:7080, https://b2"; c.EnrollmentToken = "aet_x" }, ""},
		{"one bad replica url", func(c *Config) { c.BillingURL = "http://b1:7080,b2"; c.EnrollmentToken = "aet_x" }, `billing-url: "b2" is not an http(s) URL`},
		{"billing without token", func(c *Config) { c.BillingURL = "http://b:7080" }, "enrollment-token: required with billing-url"},
		{"token with space", func(c *Config) { c.BillingURL = "http://b:7080"; c.EnrollmentToken = "a b" }, "enrollment-token: must not contain whitespace"},
		{"token without billing", func(c *Config) { c.EnrollmentToken = "aet_x" }, "enrollment-token: set without billing-url"},
		{"key without billing", func(c *Config) { c.BillingPublicKey = testKeyStd }, "billing-public-key: set without billing-url"},
		{"managed insecure", func(c *Config) {
			c.BillingURL, c.EnrollmentToken, c.AdminKey, c.InsecureNoAuth = "http://b:7080", "aet_x", "", true
		}, "insecure-no-auth: cannot be combined with billing-url"},
		{"managed metrics no auth", func(c *Config) { c.BillingURL, c.EnrollmentToken, c.MetricsNoAuth = "http://b", "t", true }, "metrics-no-auth: cannot be combined with billing-url"},
		{"public key std", func(c *Config) { c.BillingURL, c.EnrollmentToken, c.BillingPublicKey = "http://b", "t", testKeyStd }, ""},
		{"public key url raw", func(c *Config) { c.BillingURL, c.EnrollmentToken, c.BillingPublicKey = "http://b", "t", testKeyURL }, ""},
		{"public key not base64", func(c *Config) { c.BillingURL, c.EnrollmentToken, c.BillingPublicKey = "http://b", "t", "not*base64" }, "billing-public-key: not base64"},
		{"public key short", func(c *Config) { c.BillingURL, c.EnrollmentToken, c.BillingPublicKey = "http://b", "t", "AAAA" }, "billing-public-key: decodes to 3 bytes"},
		{"meter window short", func(c *Config) { c.MeterWindow = 500 * time.Millisecond }, "meter-window: 500ms is too short"},
		{"policy refresh zero", func(c *Config) { c.PolicyRefresh = 0 }, "policy-refresh: 0s is too short"},
		{"bad log level", func(c *Config) { c.LogLevel = "loud" }, "log-level: "},
		{"bad log format", func(c *Config) { c.LogFormat = "xml" }, "log-format: "},
		{"tls file missing", func(c *Config) {
			c.InsecureHTTP, c.TLSCert, c.TLSKey, c.TLSCA = false, "/no/such/cert.pem", existing, existing
		}, "tls-cert: stat /no/such/cert.pem"},
		{"tls files", func(c *Config) { c.InsecureHTTP, c.TLSCert, c.TLSKey, c.TLSCA = false, existing, existing, existing }, ""},
		{"tls with http billing", func(c *Config) {
			c.InsecureHTTP, c.TLSCert, c.TLSKey, c.TLSCA = false, existing, existing, existing
			c.BillingURL, c.EnrollmentToken = "https://b1:7080,http://b2:7080", "aet_x"
		}, `billing-url: "http://b2:7080" is plain http`},
		{"tls with https billing", func(c *Config) {
			c.InsecureHTTP, c.TLSCert, c.TLSKey, c.TLSCA = false, existing, existing, existing
			c.BillingURL, c.EnrollmentToken = "https://b1:7080", "aet_x"
		}, ""},
		{"tls and insecure-http", func(c *Config) { c.TLSCert, c.TLSKey, c.TLSCA = existing, existing, existing }, "insecure-http: cannot be combined with tls-cert"},
		{"neither tls nor insecure-http", func(c *Config) { c.InsecureHTTP = false }, "tls-cert: required (with tls-key and tls-ca)"},
		{"tls key missing", func(c *Config) { c.InsecureHTTP, c.TLSCert, c.TLSCA = false, existing, existing }, "tls-key: required with TLS"},
		{"tls ca missing", func(c *Config) { c.InsecureHTTP, c.TLSCert, c.TLSKey = false, existing, existing }, "tls-ca: required with TLS"},
		{"billing ca without billing", func(c *Config) { c.BillingCA = existing }, "billing-ca: set without billing-url"},
		{"billing ca missing", func(c *Config) { c.BillingURL, c.EnrollmentToken, c.BillingCA = "https://b", "t", "/no/ca.pem" }, "billing-ca: stat"},
		{"billing ca", func(c *Config) { c.BillingURL, c.EnrollmentToken, c.BillingCA = "https://b", "t", existing }, ""},
		{"doc bytes zero", func(c *Config) { c.MaxDocumentBytes = 0 }, "max-document-bytes: must be > 0"},
		{"body bytes zero", func(c *Config) { c.MaxBodyBytes = 0 }, "max-body-bytes: must be > 0"},
		{"doc above body", func(c *Config) { c.MaxDocumentBytes = 3 << 20 }, "max-document-bytes: 3145728 exceeds max-body-bytes"},
		{"advertise with port", func(c *Config) { c.Advertise = "10.0.0.1:7071" }, "advertise: "},
		{"advertise unspecified", func(c *Config) { c.Advertise = "0.0.0.0" }, "advertise: 0.0.0.0 is not an address"},
		{"all interfaces remote join", func(c *Config) { c.Join = []string{"10.0.0.2:7071"} }, "advertise: required"},
		{"all interfaces loopback join", func(c *Config) { c.Join = []string{"127.0.0.1:7071", "localhost:7073"} }, ""},
		{"specific listen remote join", func(c *Config) { c.RaftAddr = "10.0.0.1:7071"; c.Join = []string{"10.0.0.2:7071"} }, ""},
		{"advertise remote join", func(c *Config) { c.Advertise = "10.0.0.1"; c.Join = []string{"10.0.0.2:7071"} }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.mod(&c)
			err := c.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) && !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate() = %v, want %q", err, tt.wantErr)
			}
			// Every message starts with the option it is about.
			name, _, _ := strings.Cut(err.Error(), ":")
			if _, ok := table.Lookup(name); !ok {
				t.Fatalf("Validate() = %q does not start with an option name", err)
			}
		})
	}
}

func TestAdvertiseHost(t *testing.T) {
	tests := []struct {
		name, listen, advertise string
		join                    []string
		want                    string
		wantErr                 bool
	}{
		{"explicit", ":7071", "node1.internal", []string{"10.0.0.2:1"}, "node1.internal", false},
		{"listen host", "127.0.0.2:7071", "", nil, "127.0.0.2", false},
		{"single node", ":7071", "", nil, "127.0.0.1", false},
		{"zero ip loopback join", "0.0.0.0:7071", "", []string{"127.0.0.1:1"}, "127.0.0.1", false},
		{"remote join", "0.0.0.0:7071", "", []string{"127.0.0.1:1", "db2:7071"}, "", true},
	}
	for _, tt := range tests {
		c := valid()
		c.Advertise, c.Join = tt.advertise, tt.join
		got, err := c.AdvertiseHost(tt.listen)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("%s: AdvertiseHost(%q) = %q, %v; want %q, err=%v", tt.name, tt.listen, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestNamesShareOneTable(t *testing.T) {
	fs := pflag.NewFlagSet("agent", pflag.ContinueOnError)
	RegisterFlags(fs)
	for _, n := range Names() {
		if fs.Lookup(n) == nil {
			t.Errorf("option %s has no flag", n)
		}
		if want := "AEROLITH_" + strings.ToUpper(strings.ReplaceAll(n, "-", "_")); EnvName(n) != want {
			t.Errorf("EnvName(%s) = %s, want %s", n, EnvName(n), want)
		}
	}
	for _, n := range []string{"node-id", "data-dir", "http-addr", "raft-addr", "advertise", "bootstrap-expect", "join", "discover", "admin-key", "billing-url", "enrollment-token", "billing-public-key", "meter-window", "policy-refresh", "log-level", "log-format", "tls-cert", "tls-key", "tls-ca", "tls-poll-interval", "tls-bootstrap", "insecure-http", "billing-ca", "insecure-no-auth", "max-document-bytes"} {
		if fs.Lookup(n) == nil {
			t.Errorf("contract flag --%s missing", n)
		}
	}
	if got := fs.Lookup("http-addr").DefValue; got != ":7070" {
		t.Errorf("http-addr default = %q", got)
	}
}

func TestLogger(t *testing.T) {
	var b strings.Builder
	c := valid()
	c.LogFormat, c.LogLevel = "json", "warn"
	l := c.Logger(&b)
	l.Info("hidden")
	l.Warn("shown", "k", 1)
	if strings.Contains(b.String(), "hidden") || !strings.Contains(b.String(), `"msg":"shown"`) {
		t.Fatalf("log output = %q", b.String())
	}
}
