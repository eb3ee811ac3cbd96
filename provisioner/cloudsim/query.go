package cloudsim

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// form reads the EC2 Query protocol's flattened parameters: lists as
// Name.1, Name.2, … and structures as Name.1.Field.
type form url.Values

func (f form) get(k string) string { return url.Values(f).Get(k) }

func (f form) has(k string) bool { _, ok := f[k]; return ok }

// list returns the values of prefix.1, prefix.2, … up to the first gap.
func (f form) list(prefix string) []string {
	var out []string
	for i := 1; ; i++ {
		k := prefix + "." + strconv.Itoa(i)
		if !f.has(k) {
			return out
		}
		out = append(out, f.get(k))
	}
}

// items returns prefix.1, prefix.2, … as the prefixes of structures, up
// to the first index with no field.
func (f form) items(prefix string) []string {
	var out []string
	for i := 1; ; i++ {
		p := prefix + "." + strconv.Itoa(i) + "."
		found := false
		for k := range f {
			if strings.HasPrefix(k, p) {
				found = true
				break
			}
		}
		if !found {
			return out
		}
		out = append(out, p)
	}
}

// intParam parses an optional integer parameter (def when absent).
func (f form) intParam(k string, def int) (int, *apiError) {
	if !f.has(k) {
		return def, nil
	}
	n, err := strconv.Atoi(f.get(k))
	if err != nil {
		return 0, invalidParam("Value (%s) for parameter %s is invalid. Expected an integer.", f.get(k), k)
	}
	return n, nil
}

// tags reads prefix.N.Key / prefix.N.Value (CreateTags' Tag.N, a
// TagSpecification's Tag.N) with EC2's limits.
func (f form) tags(prefix string) (map[string]string, *apiError) {
	t := map[string]string{}
	for _, p := range f.items(prefix) {
		k, v := f.get(p+"Key"), f.get(p+"Value")
		if k == "" {
			return nil, invalidParam("Tag key must not be empty")
		}
		if len(k) > 128 || len(v) > 256 {
			return nil, invalidParam("Tag %q: keys are limited to 128 and values to 256 characters", k)
		}
		if strings.HasPrefix(strings.ToLower(k), "aws:") {
			return nil, invalidParam("Tag keys starting with 'aws:' are reserved for internal use")
		}
		if _, dup := t[k]; dup {
			return nil, invalidParam("Duplicate tag key '%s' specified.", k)
		}
		t[k] = v
	}
	if len(t) > 50 {
		return nil, &apiError{Status: 400, Code: "TagLimitExceeded", Message: fmt.Sprintf("The maximum number of tags per resource is 50; %d given.", len(t))}
	}
	return t, nil
}

// filter is one Filter.N of a Describe call.
type filter struct {
	name   string
	values []string
}

func (f form) filters() ([]filter, *apiError) {
	var out []filter
	for _, p := range f.items("Filter") {
		name := f.get(p + "Name")
		if name == "" {
			return nil, invalidParam("Filter %sName is required", p)
		}
		vals := f.list(p + "Value")
		if len(vals) == 0 {
			return nil, invalidParam("The filter '%s' requires at least one value", name)
		}
		out = append(out, filter{name: name, values: vals})
	}
	return out, nil
}

// matchesAny reports whether v matches one of the filter's values, with
// EC2's wildcards (* and ?).
func (fl filter) matchesAny(v string) bool {
	for _, want := range fl.values {
		if wildcard(want, v) {
			return true
		}
	}
	return false
}

func wildcard(pattern, s string) bool {
	if !strings.ContainsAny(pattern, "*?") {
		return pattern == s
	}
	re := "^" + strings.NewReplacer(`\*`, ".*", `\?`, ".").Replace(regexp.QuoteMeta(pattern)) + "$"
	ok, _ := regexp.MatchString(re, s)
	return ok
}

// page cuts items to one page: start is decoded from nextToken, size from
// MaxResults (and the PageSize fault).
func page[T any](items []T, nextToken string, max, faultSize int) ([]T, string, *apiError) {
	start := 0
	if nextToken != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(nextToken, "p"))
		if err != nil || !strings.HasPrefix(nextToken, "p") || n < 0 || n > len(items) {
			return nil, "", &apiError{Status: 400, Code: "InvalidPaginationToken", Message: "The pagination token is invalid."}
		}
		start = n
	}
	size := len(items) - start
	if max > 0 && max < size {
		size = max
	}
	if faultSize > 0 && faultSize < size {
		size = faultSize
	}
	end := start + size
	next := ""
	if end < len(items) {
		next = "p" + strconv.Itoa(end)
	}
	return items[start:end], next, nil
}
