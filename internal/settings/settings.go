// Package settings is the option table behind a command's configuration:
// one list of option names shared by command-line flags (--bootstrap-expect),
// environment variables (AEROLITH_BOOTSTRAP_EXPECT) and a YAML file given
// with --config or AEROLITH_CONFIG (keys "bootstrap-expect" or
// "bootstrap_expect"), plus the checks Validate methods share (listen
// addresses, the advertised host, log level and format).
//
// Precedence, highest first: flag, environment, file, default. An
// environment variable set to the empty string counts as unset. The file may
// reference environment variables as ${NAME}; unknown keys in it are errors.
package settings

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"
)

// ConfigOption names the option that points at the YAML file. It is read
// from flags and env only.
const ConfigOption = "config"

// Option is one row of a Table: a name (flag name; env AEROLITH_<NAME>; YAML
// key with dashes or underscores), its help text and the field of T it sets.
type Option[T any] struct {
	Name  string
	Usage string
	// Field returns a pointer to the option's field of a T: *string, *int,
	// *bool, *[]string (comma- or space-separated on flags and env, a YAML
	// sequence or string in files) or *time.Duration (see ParseDuration).
	Field func(*T) any
}

// Table is the one list of options of a configuration type T.
type Table[T any] struct {
	Options []Option[T]
	// Default returns the configuration used for options no source sets.
	Default func() T
}

// EnvName returns the environment variable of an option name:
// EnvName("bootstrap-expect") = "AEROLITH_BOOTSTRAP_EXPECT".
func EnvName(name string) string {
	return "AEROLITH_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// Names returns "config" and every option name in table order.
func (t Table[T]) Names() []string {
	names := make([]string, 0, len(t.Options)+1)
	names = append(names, ConfigOption)
	for _, o := range t.Options {
		names = append(names, o.Name)
	}
	return names
}

// Lookup returns the option called name (dashes or underscores, any case).
func (t Table[T]) Lookup(name string) (Option[T], bool) {
	name = strings.ToLower(strings.ReplaceAll(name, "_", "-"))
	for _, o := range t.Options {
		if o.Name == name {
			return o, true
		}
	}
	return Option[T]{}, false
}

// Set parses s into the option's field of c, replacing a list.
func (o Option[T]) Set(c *T, s string) error {
	s = strings.TrimSpace(s)
	switch p := o.Field(c).(type) {
	case *string:
		*p = s
	case *int:
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("%s: %q is not an integer", o.Name, s)
		}
		*p = n
	case *bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("%s: %q is not a boolean (want true or false)", o.Name, s)
		}
		*p = b
	case *[]string:
		*p = SplitList(s)
	case *time.Duration:
		d, err := ParseDuration(s)
		if err != nil {
			return fmt.Errorf("%s: %v", o.Name, err)
		}
		*p = d
	default:
		panic(fmt.Sprintf("settings: option %s has unsupported field type %T", o.Name, p))
	}
	return nil
}

// Get renders the option's field of c as it would be written on a flag.
func (o Option[T]) Get(c *T) string {
	switch p := o.Field(c).(type) {
	case *string:
		return *p
	case *int:
		return strconv.Itoa(*p)
	case *bool:
		return strconv.FormatBool(*p)
	case *[]string:
		return strings.Join(*p, ",")
	case *time.Duration:
		return FormatDuration(*p)
	}
	return ""
}

// typeName is the option's value type as pflag help shows it.
func (o Option[T]) typeName() string {
	var zero T
	switch o.Field(&zero).(type) {
	case *int:
		return "int"
	case *bool:
		return "bool"
	case *[]string:
		return "strings"
	case *time.Duration:
		return "duration"
	}
	return "string"
}

// SplitList splits a comma- or whitespace-separated list, dropping empty
// items; it returns nil for an empty list.
func SplitList(s string) []string {
	f := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
	if len(f) == 0 {
		return nil
	}
	return f
}

// flagValue is the pflag.Value behind every option's flag: it checks the
// syntax on Set and keeps the raw text for Load. A list flag given several
// times accumulates.
type flagValue[T any] struct {
	opt  Option[T]
	raw  string
	list []string
}

func (v *flagValue[T]) Set(s string) error {
	var scratch T
	if err := v.opt.Set(&scratch, s); err != nil {
		return err
	}
	if v.opt.typeName() == "strings" {
		v.list = append(v.list, SplitList(s)...)
		v.raw = strings.Join(v.list, ",")
		return nil
	}
	v.raw = s
	return nil
}

func (v *flagValue[T]) String() string { return v.raw }

func (v *flagValue[T]) Type() string { return v.opt.typeName() }

// RegisterFlags adds one flag per option (plus --config) to fs, with the
// defaults shown in help.
func (t Table[T]) RegisterFlags(fs *pflag.FlagSet) {
	def := t.Default()
	fs.String(ConfigOption, "", "YAML file with options (same names as the flags); env "+EnvName(ConfigOption))
	for _, o := range t.Options {
		v := &flagValue[T]{opt: o}
		f := fs.VarPF(v, o.Name, "", o.Usage+" (env "+EnvName(o.Name)+")")
		f.DefValue = o.Get(&def)
		if o.typeName() == "bool" {
			f.NoOptDefVal = "true"
		}
	}
}

// Load builds a T from defaults, the YAML file (--config or
// AEROLITH_CONFIG), environment variables (looked up with lookupEnv, e.g.
// os.LookupEnv; an empty value counts as unset) and the flags set on fs, in
// increasing precedence. fs and lookupEnv may be nil. Load checks syntax
// (integers, booleans, durations, known keys); Validate methods check the
// rest.
func (t Table[T]) Load(fs *pflag.FlagSet, lookupEnv func(string) (string, bool)) (T, error) {
	var zero T
	if lookupEnv == nil {
		lookupEnv = func(string) (string, bool) { return "", false }
	}
	env := func(name string) (string, bool) {
		v, ok := lookupEnv(name)
		return v, ok && v != ""
	}
	c := t.Default()

	path, _ := env(EnvName(ConfigOption))
	if fs != nil && fs.Changed(ConfigOption) {
		path, _ = fs.GetString(ConfigOption)
	}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return zero, fmt.Errorf("config: %w", err)
		}
		if err := t.applyYAML(&c, data, lookupEnv); err != nil {
			return zero, fmt.Errorf("config file %s: %w", path, err)
		}
	}

	for _, o := range t.Options {
		if v, ok := env(EnvName(o.Name)); ok {
			if err := o.Set(&c, v); err != nil {
				return zero, fmt.Errorf("%s: %w", EnvName(o.Name), err)
			}
		}
	}

	if fs != nil {
		for _, o := range t.Options {
			if f := fs.Lookup(o.Name); f != nil && f.Changed {
				if err := o.Set(&c, f.Value.String()); err != nil {
					return zero, err
				}
			}
		}
	}
	return c, nil
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// applyYAML sets the options found in a YAML document. ${NAME} references
// are replaced by environment values first (only that form, so a literal "$"
// stays as written). Unknown keys are errors.
func (t Table[T]) applyYAML(c *T, data []byte, lookupEnv func(string) (string, bool)) error {
	var missing string
	data = envRef.ReplaceAllFunc(data, func(m []byte) []byte {
		name := string(m[2 : len(m)-1])
		v, ok := lookupEnv(name)
		if !ok && missing == "" {
			missing = name
		}
		return []byte(v)
	})
	if missing != "" {
		return fmt.Errorf("environment variable %s referenced but not set", missing)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return err
	}
	seen := map[string]string{}
	for key, raw := range doc {
		o, ok := t.Lookup(key)
		if !ok {
			return fmt.Errorf("unknown key %q", key)
		}
		if prev, dup := seen[o.Name]; dup {
			return fmt.Errorf("keys %q and %q both set %s", prev, key, o.Name)
		}
		seen[o.Name] = key
		s, err := yamlScalar(o, raw)
		if err != nil {
			return err
		}
		if err := o.Set(c, s); err != nil {
			return err
		}
	}
	return nil
}

// yamlScalar renders a YAML value as the text a flag would carry.
func yamlScalar[T any](o Option[T], v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case int, int64, uint64, bool:
		return fmt.Sprint(v), nil
	case float64:
		return "", fmt.Errorf("%s: %v is not an integer", o.Name, v)
	case []any:
		if o.typeName() != "strings" {
			return "", fmt.Errorf("%s: want a single value, not a list", o.Name)
		}
		items := make([]string, 0, len(v))
		for _, it := range v {
			switch it.(type) {
			case string, int, int64, uint64:
				items = append(items, fmt.Sprint(it))
			default:
				return "", fmt.Errorf("%s: list items must be strings", o.Name)
			}
		}
		return strings.Join(items, ","), nil
	}
	return "", fmt.Errorf("%s: unsupported value of type %T", o.Name, v)
}
