package tier

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// MaxFileSize is the largest tiers file Parse accepts.
const MaxFileSize = 1 << 20

// LoadFile reads and parses the tiers file at path (see Parse). Errors are
// prefixed with the path.
func LoadFile(path string) (Catalog, error) {
	f, err := os.Open(path)
	if err != nil {
		return Catalog{}, fmt.Errorf("tiers file: %w", err)
	}
	defer f.Close()
	c, err := Parse(f)
	if err != nil {
		return Catalog{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Parse reads a YAML tiers file: a mapping with one key, "tiers", holding a
// list of tiers in the shape of Tier's yaml tags. The file REPLACES the
// default catalog wholly (tiers are not merged with Defaults): it lists every
// tier offered, in pricing-page order.
//
// Parsing is strict: unknown or duplicate fields, values of the wrong shape,
// aliases and multiple documents are errors. Money is a dollar string (see
// ParseMoney), counts and sizes are integers or suffixed quantities (see
// ParseQuantity), max_query_duration is a Go duration ("30s"). A missing
// display_name defaults to the name with its first letter upper-cased. The
// result is validated (Catalog.Validate). Every problem is reported with the
// tier and field it concerns; the error matches ErrInvalid unless reading r
// failed.
func Parse(r io.Reader) (Catalog, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return Catalog{}, fmt.Errorf("read tiers file: %w", err)
	}
	if len(data) > MaxFileSize {
		return Catalog{}, &fieldError{msg: fmt.Sprintf("tiers file larger than %d bytes", MaxFileSize)}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return Catalog{}, &fieldError{msg: "empty tiers file (want a mapping with a tiers list)"}
		}
		return Catalog{}, &fieldError{msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return Catalog{}, &fieldError{msg: "more than one YAML document in tiers file"}
	}
	var c Catalog
	if err := c.UnmarshalYAML(&doc); err != nil {
		return Catalog{}, err
	}
	return c, nil
}

// UnmarshalYAML decodes a catalog with the same strictness, defaults and
// validation as Parse, so a catalog embedded in a larger YAML configuration
// is checked the same way.
func (c *Catalog) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	d := &decoder{}
	var out Catalog
	d.mapping(n, "", []field{
		{"tiers", func(n *yaml.Node, path string) { out.Tiers = d.tiers(n, path) }},
	})
	if err := d.p.err(); err != nil {
		return err
	}
	if out.Tiers == nil {
		return &fieldError{path: "tiers", msg: "required (a list of tiers)"}
	}
	for i := range out.Tiers {
		t := &out.Tiers[i]
		if t.DisplayName == "" && nameRE.MatchString(t.Name) {
			t.DisplayName = strings.ToUpper(t.Name[:1]) + t.Name[1:]
		}
	}
	if err := out.Validate(); err != nil {
		return err
	}
	*c = out
	return nil
}

// decoder walks a yaml.Node tree, collecting problems with their paths.
type decoder struct {
	p problems
}

type field struct {
	key string
	dec func(n *yaml.Node, path string)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// describe names a node's shape for error messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		v := n.Value
		if len(v) > 40 {
			v = v[:40] + "..."
		}
		return fmt.Sprintf("%q", v)
	}
	return "nothing"
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// shape reports whether n is of kind want, recording a problem if not.
func (d *decoder) shape(n *yaml.Node, path string, want yaml.Kind, wantName string) bool {
	if n.Kind == yaml.AliasNode {
		d.p.add(path, "aliases are not supported")
		return false
	}
	if n.Kind != want {
		d.p.add(path, "expected %s, got %s", wantName, describe(n))
		return false
	}
	return true
}

// mapping decodes a mapping with the given fields; null values leave a field
// at its zero value.
func (d *decoder) mapping(n *yaml.Node, path string, fields []field) {
	where := path
	if where == "" {
		where = "tiers file"
	}
	if !d.shape(n, where, yaml.MappingNode, "a mapping") {
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.p.add(where, "keys must be plain strings, got %s", describe(k))
			continue
		}
		var f *field
		for j := range fields {
			if fields[j].key == k.Value {
				f = &fields[j]
			}
		}
		if f == nil {
			names := make([]string, len(fields))
			for j, f := range fields {
				names[j] = f.key
			}
			d.p.add(where, "unknown field %q (want %s)", k.Value, strings.Join(names, ", "))
			continue
		}
		if seen[k.Value] {
			d.p.add(join(path, k.Value), "duplicate field")
			continue
		}
		seen[k.Value] = true
		if isNull(v) {
			continue
		}
		f.dec(v, join(path, k.Value))
	}
}

func (d *decoder) scalar(n *yaml.Node, path string) (string, bool) {
	if !d.shape(n, path, yaml.ScalarNode, "a single value") {
		return "", false
	}
	return n.Value, true
}

func (d *decoder) str(dst *string) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		if s, ok := d.scalar(n, path); ok {
			*dst = s
		}
	}
}

func (d *decoder) quantity(dst *int64) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		s, ok := d.scalar(n, path)
		if !ok {
			return
		}
		v, err := ParseQuantity(s)
		if err != nil {
			d.p.add(path, "%v", err)
			return
		}
		*dst = v
	}
}

func (d *decoder) money(dst *Money) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		s, ok := d.scalar(n, path)
		if !ok {
			return
		}
		v, err := ParseMoney(s)
		if err != nil {
			d.p.add(path, "%v", err)
			return
		}
		*dst = v
	}
}

func (d *decoder) duration(dst *time.Duration) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		s, ok := d.scalar(n, path)
		if !ok {
			return
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			d.p.add(path, "invalid duration %q (want a Go duration such as \"30s\" or \"2m\")", s)
			return
		}
		*dst = v
	}
}

func (d *decoder) tiers(n *yaml.Node, path string) []Tier {
	if !d.shape(n, path, yaml.SequenceNode, "a list of tiers") {
		return nil
	}
	out := make([]Tier, len(n.Content))
	for i, tn := range n.Content {
		d.tier(tn, i, &out[i])
	}
	return out
}

// tierName finds the tier's name before decoding, so that every error about
// the tier can name it.
func tierName(n *yaml.Node) string {
	if n.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "name" && n.Content[i+1].Kind == yaml.ScalarNode && !isNull(n.Content[i+1]) {
			return n.Content[i+1].Value
		}
	}
	return ""
}

func (d *decoder) tier(n *yaml.Node, i int, t *Tier) {
	path := tierPath(i, tierName(n))
	d.mapping(n, path, []field{
		{"name", d.str(&t.Name)},
		{"display_name", d.str(&t.DisplayName)},
		{"base_price", d.money(&t.BasePrice)},
		{"included", func(n *yaml.Node, path string) {
			in := &t.Included
			d.mapping(n, path, []field{
				{string(Reads), d.quantity(&in.Reads)},
				{string(Writes), d.quantity(&in.Writes)},
				{string(Queries), d.quantity(&in.Queries)},
				{string(Storage), d.quantity(&in.StorageByteMonths)},
				{string(Egress), d.quantity(&in.EgressBytes)},
				{string(QueryCompute), d.quantity(&in.QueryComputeMs)},
			})
		}},
		{"overage", func(n *yaml.Node, path string) {
			o := &t.Overage
			d.mapping(n, path, []field{
				{string(Reads), d.price(&o.Reads)},
				{string(Writes), d.price(&o.Writes)},
				{string(Queries), d.price(&o.Queries)},
				{string(Storage), d.price(&o.Storage)},
				{string(Egress), d.price(&o.Egress)},
				{string(QueryCompute), d.price(&o.QueryCompute)},
			})
		}},
		{"limits", func(n *yaml.Node, path string) {
			l := &t.Limits
			d.mapping(n, path, []field{
				{"storage_bytes", d.quantity(&l.StorageBytes)},
				{"api_calls_per_day", d.quantity(&l.APICallsPerDay)},
				{"api_calls_per_hour", d.quantity(&l.APICallsPerHour)},
				{"requests_per_second", d.quantity(&l.RequestsPerSecond)},
				{"concurrent_connections", d.quantity(&l.ConcurrentConnections)},
				{"max_query_duration", d.duration(&l.MaxQueryDuration)},
				{"max_collections", d.quantity(&l.MaxCollections)},
				{"max_documents_per_collection", d.quantity(&l.MaxDocumentsPerCollection)},
				{"retention_days", d.quantity(&l.RetentionDays)},
			})
		}},
		{"quota_action", func(n *yaml.Node, path string) {
			var s string
			d.str(&s)(n, path)
			t.QuotaAction = QuotaAction(s)
		}},
	})
}

func (d *decoder) price(dst **Price) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		p := &Price{}
		d.mapping(n, path, []field{
			{"model", func(n *yaml.Node, path string) {
				var s string
				d.str(&s)(n, path)
				p.Model = Model(s)
			}},
			{"unit", d.quantity(&p.Unit)},
			{"unit_price", d.money(&p.UnitPrice)},
			{"bands", func(n *yaml.Node, path string) {
				if !d.shape(n, path, yaml.SequenceNode, "a list of bands") {
					return
				}
				for j, bn := range n.Content {
					var b Band
					d.mapping(bn, fmt.Sprintf("%s[%d]", path, j), []field{
						{"up_to", func(n *yaml.Node, path string) {
							var v int64
							d.quantity(&v)(n, path)
							b.UpTo = &v
						}},
						{"unit_price", d.money(&b.UnitPrice)},
					})
					p.Bands = append(p.Bands, b)
				}
			}},
			{"package_size", d.quantity(&p.PackageSize)},
			{"package_price", d.money(&p.PackagePrice)},
		})
		*dst = p
	}
}
