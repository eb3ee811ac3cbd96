package tier

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"

	"gopkg.in/yaml.v3"
)

// FuzzParse checks that Parse never panics, that whatever it accepts
// validates, and that marshal → parse reproduces the catalog exactly and
// marshals to the same bytes again.
func FuzzParse(f *testing.F) {
	def, err := yaml.Marshal(Defaults())
	if err != nil {
		f.Fatal(err)
	}
	example, err := os.ReadFile(filepath.Join("testdata", "tiers.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range [][]byte{def, example, []byte(baseFile), []byte("tiers: []\n"), []byte("tiers: [{name: x}]\n"),
		[]byte("a: &a [*a]\n"), []byte("tiers:\n  - name: a\n    base_price: 1.5\n")} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(bytes.NewReader(data))
		if err != nil {
			if c.Tiers != nil {
				t.Fatalf("Parse failed (%v) but returned tiers", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("parsed catalog does not validate: %v", err)
		}
		out, err := yaml.Marshal(c)
		if err != nil {
			t.Fatalf("yaml.Marshal: %v", err)
		}
		back, err := Parse(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("Parse(yaml.Marshal(c)) = %v\n%s", err, out)
		}
		if !reflect.DeepEqual(back, c) {
			t.Fatalf("round trip changed the catalog:\n got %+v\nwant %+v", back, c)
		}
		again, err := yaml.Marshal(back)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("second marshal differs (%v)", err)
		}
	})
}

// FuzzParseMoney checks ParseMoney never panics and that every accepted
// amount prints (String) to text that parses back to the same amount.
func FuzzParseMoney(f *testing.F) {
	for _, s := range []string{"0", "10.00", "$0.25", "-1.5", "0.000001", "9223372036854.775807", "1e3", ".5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMoney(s)
		if err != nil {
			return
		}
		back, err := ParseMoney(m.String())
		if err != nil || back != m {
			t.Fatalf("ParseMoney(%q) = %d; ParseMoney(%q) = %d, %v", s, m, m.String(), back, err)
		}
	})
}

// FuzzParseQuantity checks ParseQuantity never panics and that every
// accepted quantity's decimal form parses back to itself.
func FuzzParseQuantity(f *testing.F) {
	for _, s := range []string{"0", "1_000", "1.5GB", "100MiB", "-3k", "9223372036854775807", "1e3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := ParseQuantity(s)
		if err != nil {
			return
		}
		text := strconv.FormatInt(q, 10)
		if back, err := ParseQuantity(text); err != nil || back != q {
			t.Fatalf("ParseQuantity(%q) = %d; ParseQuantity(%q) = %d, %v", s, q, text, back, err)
		}
	})
}
