package settings

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/aerolithdb/aerolith/internal/settings/settingstest"
)

type conf struct {
	Name  string
	Count int
	On    bool
	Peers []string
	Wait  time.Duration
}

var testTable = Table[conf]{
	Default: func() conf { return conf{Name: "def", Count: 3, Wait: 24 * time.Hour} },
	Options: []Option[conf]{
		{Name: "name", Usage: "a name", Field: func(c *conf) any { return &c.Name }},
		{Name: "max-count", Usage: "a count", Field: func(c *conf) any { return &c.Count }},
		{Name: "on", Usage: "a switch", Field: func(c *conf) any { return &c.On }},
		{Name: "peers", Usage: "a list", Field: func(c *conf) any { return &c.Peers }},
		{Name: "wait", Usage: "a duration", Field: func(c *conf) any { return &c.Wait }},
	},
}

func load(t *testing.T, args []string, e map[string]string) (conf, error) {
	t.Helper()
	return settingstest.Load(t, "t", testTable.RegisterFlags, testTable.Load, args, e)
}

func TestLoadPrecedence(t *testing.T) {
	file := settingstest.WriteFile(t, "c.yaml", "name: file\nmax_count: 5\npeers: [a:1, b:2]\nwait: 2d\n")
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want conf
	}{
		{"defaults", nil, nil, conf{Name: "def", Count: 3, Wait: 24 * time.Hour}},
		{"file", []string{"--config", file}, nil, conf{Name: "file", Count: 5, Peers: []string{"a:1", "b:2"}, Wait: 48 * time.Hour}},
		{"file from env", nil, map[string]string{"AEROLITH_CONFIG": file}, conf{Name: "file", Count: 5, Peers: []string{"a:1", "b:2"}, Wait: 48 * time.Hour}},
		{"env over file", []string{"--config", file}, map[string]string{"AEROLITH_MAX_COUNT": "7", "AEROLITH_ON": "true", "AEROLITH_NAME": ""},
			conf{Name: "file", Count: 7, On: true, Peers: []string{"a:1", "b:2"}, Wait: 48 * time.Hour}},
		{"flags over env", []string{"--config", file, "--peers", "x:1", "--peers=y:2,z:3", "--on", "--wait", "90s"}, map[string]string{"AEROLITH_PEERS": "q:1"},
			conf{Name: "file", Count: 5, On: true, Peers: []string{"x:1", "y:2", "z:3"}, Wait: 90 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := load(t, tt.args, tt.env)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	settingstest.CheckLoadErrors(t, []settingstest.LoadError{
		{Name: "bad int flag", Args: []string{"--max-count", "x"}, Want: `max-count: "x" is not an integer`},
		{Name: "bad bool env", Env: map[string]string{"AEROLITH_ON": "maybe"}, Want: `AEROLITH_ON: on: "maybe" is not a boolean`},
		{Name: "bad duration env", Env: map[string]string{"AEROLITH_WAIT": "-1s"}, Want: `AEROLITH_WAIT: wait: "-1s" is negative`},
		{Name: "unknown key", File: "nope: 1\n", Want: `unknown key "nope"`},
		{Name: "duplicate key", File: "max-count: 1\nmax_count: 2\n", Want: "both set max-count"},
		{Name: "list for scalar", File: "name: [a, b]\n", Want: "name: want a single value, not a list"},
		{Name: "float", File: "max-count: 1.5\n", Want: "max-count: 1.5 is not an integer"},
		{Name: "missing env ref", File: "name: ${NOPE_NOT_SET}\n", Want: "environment variable NOPE_NOT_SET referenced but not set"},
		{Name: "missing file", Args: []string{"--config", "/nonexistent/c.yaml"}, Want: "config: open /nonexistent/c.yaml"},
	}, load)
}

func TestFileEnvExpansion(t *testing.T) {
	file := settingstest.WriteFile(t, "c.yaml", "name: ${WHO}\npeers: ${PEERS}\n")
	got, err := load(t, []string{"--config", file}, map[string]string{"WHO": "me", "PEERS": "a:1,b:2"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "me" || !reflect.DeepEqual(got.Peers, []string{"a:1", "b:2"}) {
		t.Fatalf("got %+v", got)
	}
}

func TestRegisterFlagsHelp(t *testing.T) {
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	testTable.RegisterFlags(fs)
	for _, tc := range []struct{ name, typ, def string }{
		{"name", "string", "def"}, {"max-count", "int", "3"}, {"on", "bool", "false"}, {"peers", "strings", ""}, {"wait", "duration", "1d"},
	} {
		f := fs.Lookup(tc.name)
		if f == nil || f.Value.Type() != tc.typ || f.DefValue != tc.def || !strings.Contains(f.Usage, "(env "+EnvName(tc.name)+")") {
			t.Errorf("flag %s = %+v", tc.name, f)
		}
	}
	if fs.Lookup(ConfigOption) == nil {
		t.Error("no --config flag")
	}
	if got := strings.Join(testTable.Names(), " "); got != "config name max-count on peers wait" {
		t.Errorf("Names() = %q", got)
	}
	if _, ok := testTable.Lookup("MAX_Count"); !ok {
		t.Error("Lookup ignores case and underscores")
	}
	if EnvName("max-count") != "AEROLITH_MAX_COUNT" {
		t.Errorf("EnvName = %q", EnvName("max-count"))
	}
}
