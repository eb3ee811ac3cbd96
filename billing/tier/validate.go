package tier

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// ErrInvalid is matched (errors.Is) by every error Validate, Parse and
// LoadFile return for a bad catalog, as opposed to an I/O error.
var ErrInvalid = errors.New("invalid tiers")

// fieldError is one problem with one field. Path names the tier and the
// field, e.g. "tiers[1] (starter).overage.reads.model".
type fieldError struct {
	path string
	msg  string
}

func (e *fieldError) Error() string {
	if e.path == "" {
		return e.msg
	}
	return e.path + ": " + e.msg
}

func (e *fieldError) Is(target error) bool { return target == ErrInvalid }

// maxReported bounds how many problems one error lists.
const maxReported = 20

// problems collects fieldErrors.
type problems struct {
	list []error
	more int
}

func (p *problems) add(path, format string, args ...any) {
	if len(p.list) >= maxReported {
		p.more++
		return
	}
	p.list = append(p.list, &fieldError{path: path, msg: fmt.Sprintf(format, args...)})
}

// err returns nil, the single problem, or all problems joined by newlines.
func (p *problems) err() error {
	if p.more > 0 {
		p.list = append(p.list, &fieldError{msg: fmt.Sprintf("and %d more problems", p.more)})
	}
	switch len(p.list) {
	case 0:
		return nil
	case 1:
		return p.list[0]
	}
	return errors.Join(p.list...)
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)

const (
	nameWant   = "lowercase letters, digits, '-' or '_', starting with a letter, at most 63 characters"
	modelWant  = "want per_unit, graduated, volume or package"
	actionWant = "want block, throttle, allow_with_overage or warn"
)

// Validate checks the whole catalog: at least one tier, unique valid names,
// and every tier valid (see Tier.Validate). The error lists every problem
// found (up to 20), one per line, each naming the tier and the field, e.g.
// `tiers[1] (starter).overage.reads.model: unknown model "flat" (want
// per_unit, graduated, volume or package)`. It matches ErrInvalid.
func (c Catalog) Validate() error {
	var p problems
	if len(c.Tiers) == 0 {
		p.add("tiers", "at least one tier is required")
	}
	first := map[string]int{}
	for i, t := range c.Tiers {
		prefix := tierPath(i, t.Name)
		if j, dup := first[t.Name]; dup && t.Name != "" {
			p.add(prefix+".name", "duplicate tier name %q (also tiers[%d])", t.Name, j)
		} else {
			first[t.Name] = i
		}
		t.validate(prefix, &p)
	}
	return p.err()
}

// tierPath names the i'th tier of a catalog in errors.
func tierPath(i int, name string) string {
	if name == "" {
		return fmt.Sprintf("tiers[%d]", i)
	}
	return fmt.Sprintf("tiers[%d] (%s)", i, name)
}

// Validate checks one tier: a valid name and display name, non-negative
// money and allowances, well-formed overage prices, positive limits with
// api_calls_per_hour <= api_calls_per_day, a known quota action, and an
// overage price for every meter when the action is allow_with_overage.
// Errors are prefixed "tier (name)". It matches ErrInvalid.
func (t Tier) Validate() error {
	var p problems
	t.validate(fmt.Sprintf("tier (%s)", t.Name), &p)
	return p.err()
}

func (t Tier) validate(prefix string, p *problems) {
	switch {
	case t.Name == "":
		p.add(prefix+".name", "required (%s)", nameWant)
	case !nameRE.MatchString(t.Name):
		p.add(prefix+".name", "invalid tier name %q (want %s)", t.Name, nameWant)
	}
	if strings.TrimSpace(t.DisplayName) == "" {
		p.add(prefix+".display_name", "required")
	}
	nonNegativeMoney(p, prefix+".base_price", t.BasePrice)
	for _, m := range Meters() {
		if v := t.Included.Get(m); v < 0 {
			p.add(prefix+".included."+string(m), "must not be negative (got %d)", v)
		}
	}
	for _, m := range Meters() {
		price := t.Overage.Get(m)
		path := prefix + ".overage." + string(m)
		if price == nil {
			if t.QuotaAction == AllowWithOverage {
				p.add(path, "required when quota_action is allow_with_overage (usage above the included amount is billed)")
			}
			continue
		}
		price.validate(path, p)
	}
	validateLimits(t.Limits, prefix+".limits", p)
	switch t.QuotaAction {
	case Block, Throttle, AllowWithOverage, Warn:
	case "":
		p.add(prefix+".quota_action", "required (%s)", actionWant)
	default:
		p.add(prefix+".quota_action", "unknown quota action %q (%s)", t.QuotaAction, actionWant)
	}
}

func nonNegativeMoney(p *problems, path string, m Money) {
	if m < 0 {
		p.add(path, "must not be negative (got %s)", m)
	}
}

// Validate checks p as the price at path (used in messages).
func (pr Price) validate(path string, p *problems) {
	notWith := func(field string) {
		p.add(path+"."+field, "not allowed with model %s", pr.Model)
	}
	switch pr.Model {
	case PerUnit:
		positiveUnit(p, path, pr.Unit)
		nonNegativeMoney(p, path+".unit_price", pr.UnitPrice)
		if len(pr.Bands) > 0 {
			notWith("bands")
		}
		if pr.PackageSize != 0 {
			notWith("package_size")
		}
		if pr.PackagePrice != 0 {
			notWith("package_price")
		}
	case Graduated, Volume:
		positiveUnit(p, path, pr.Unit)
		if pr.UnitPrice != 0 {
			p.add(path+".unit_price", "not allowed with model %s (set unit_price on each of bands)", pr.Model)
		}
		if pr.PackageSize != 0 {
			notWith("package_size")
		}
		if pr.PackagePrice != 0 {
			notWith("package_price")
		}
		validateBands(p, path, pr.Model, pr.Bands)
	case Package:
		if pr.PackageSize <= 0 {
			p.add(path+".package_size", "must be positive (base units per package, e.g. 1000000; got %d)", pr.PackageSize)
		}
		nonNegativeMoney(p, path+".package_price", pr.PackagePrice)
		if pr.Unit != 0 {
			notWith("unit")
		}
		if pr.UnitPrice != 0 {
			notWith("unit_price")
		}
		if len(pr.Bands) > 0 {
			notWith("bands")
		}
	case "":
		p.add(path+".model", "required (%s)", modelWant)
	default:
		p.add(path+".model", "unknown model %q (%s)", pr.Model, modelWant)
	}
}

func positiveUnit(p *problems, path string, unit int64) {
	if unit <= 0 {
		p.add(path+".unit", "must be positive (base units one unit_price buys, e.g. 1000000; got %d)", unit)
	}
}

func validateBands(p *problems, path string, model Model, bands []Band) {
	if len(bands) == 0 {
		p.add(path+".bands", "at least one band is required for model %s", model)
		return
	}
	var prev int64
	for j, b := range bands {
		bp := fmt.Sprintf("%s.bands[%d]", path, j)
		nonNegativeMoney(p, bp+".unit_price", b.UnitPrice)
		last := j == len(bands)-1
		switch {
		case last && b.UpTo != nil:
			p.add(bp+".up_to", "must be omitted on the last band (it is unbounded)")
		case !last && b.UpTo == nil:
			p.add(bp+".up_to", "required on every band but the last")
		case b.UpTo == nil:
		case *b.UpTo <= 0:
			p.add(bp+".up_to", "must be positive (got %d)", *b.UpTo)
		case j > 0 && *b.UpTo <= prev:
			p.add(bp+".up_to", "must be greater than bands[%d].up_to (got %d <= %d)", j-1, *b.UpTo, prev)
		}
		if b.UpTo != nil {
			prev = *b.UpTo
		}
	}
}

func validateLimits(l Limits, path string, p *problems) {
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"storage_bytes", l.StorageBytes},
		{"api_calls_per_day", l.APICallsPerDay},
		{"api_calls_per_hour", l.APICallsPerHour},
		{"requests_per_second", l.RequestsPerSecond},
		{"concurrent_connections", l.ConcurrentConnections},
		{"max_query_duration", int64(l.MaxQueryDuration)},
		{"max_collections", l.MaxCollections},
		{"max_documents_per_collection", l.MaxDocumentsPerCollection},
		{"retention_days", l.RetentionDays},
	} {
		if f.v <= 0 {
			got := fmt.Sprint(f.v)
			if f.name == "max_query_duration" {
				got = l.MaxQueryDuration.String()
			}
			p.add(path+"."+f.name, "must be positive (got %s)", got)
		}
	}
	if l.APICallsPerHour > 0 && l.APICallsPerDay > 0 && l.APICallsPerHour > l.APICallsPerDay {
		p.add(path+".api_calls_per_hour", "must not exceed api_calls_per_day (got %d > %d)", l.APICallsPerHour, l.APICallsPerDay)
	}
}
