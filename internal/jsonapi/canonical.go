package jsonapi

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// MuxOption configures NewMux.
type MuxOption func(*muxConfig)

type muxConfig struct {
	names map[string]string
}

// WildcardNames gives the names errors use for pattern wildcards, e.g.
// {"c": "collection"}; a wildcard without a name is called by its own.
func WildcardNames(names map[string]string) MuxOption {
	return func(c *muxConfig) { c.names = names }
}

// canonical refuses, with 400, every path that http.ServeMux would clean
// and answer with a redirect: one with a "." or ".." segment or an empty
// segment ("//"). A redirect is never an answer a client can follow
// safely: `DELETE /api/v1/collections/c/documents/..` cleans to
// `/api/v1/collections/c`, and a client that follows the 307 with the same
// method drops the collection. Segments that only unescape to "." or ".."
// (%2E%2E) are refused too: ServeMux would route them as a wildcard value,
// but proxies and clients that normalise paths resolve them away, so the
// request could reach another resource on its way. So is a segment that
// unescapes to "/" alone (%2F): ServeMux takes it for a trailing slash and
// answers "no such route" (FuzzRouteNames in agent/httpapi found it). The
// error names the route's wildcard when the path fits a route.
type canonical struct {
	next     http.Handler
	patterns [][]string // the route patterns, split into segments
	names    map[string]string
	ew       ErrorWriter
}

func newCanonical(next http.Handler, routes []Route, names map[string]string, ew ErrorWriter) *canonical {
	c := &canonical{next: next, names: names, ew: ew}
	seen := map[string]bool{}
	for _, rt := range routes {
		if seen[rt.Pattern] {
			continue
		}
		seen[rt.Pattern] = true
		c.patterns = append(c.patterns, strings.Split(strings.TrimPrefix(rt.Pattern, "/"), "/"))
	}
	return c
}

func (c *canonical) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	if !strings.HasPrefix(path, "/") {
		c.ew.Write(w, http.StatusBadRequest, CodeInvalidArgument, fmt.Sprintf("request path %q must start with /", path))
		return
	}
	segs := strings.Split(path[1:], "/")
	for i, s := range segs {
		v := unescape(s)
		if !dotOrEmpty(v, i == len(segs)-1) && v != "/" {
			continue
		}
		pattern, name := c.wildcardAt(segs, i)
		if name == "" {
			c.ew.Write(w, http.StatusBadRequest, CodeInvalidArgument, fmt.Sprintf(
				"request path %q has an empty, \".\" or \"..\" segment; clients and proxies resolve such paths to another resource, so they are refused (never redirected)", path))
			return
		}
		SetRoute(r, pattern)
		switch v {
		case "":
			c.ew.Write(w, http.StatusBadRequest, CodeInvalidArgument, fmt.Sprintf("%s: required (the path has an empty segment)", name))
			return
		case "/":
			c.ew.Write(w, http.StatusBadRequest, CodeInvalidArgument, fmt.Sprintf(
				"%s: \"/\" cannot be used: a segment that is only an escaped slash is routed as a trailing slash; use another %s", name, name))
			return
		}
		c.ew.Write(w, http.StatusBadRequest, CodeInvalidArgument, fmt.Sprintf(
			"%s: %q cannot be used: \".\" and \"..\" (also percent-encoded) are resolved away by clients and proxies, so the request would reach another resource; use another %s", name, v, name))
		return
	}
	c.next.ServeHTTP(w, r)
}

// dotOrEmpty reports whether a path segment (unescaped) is one ServeMux or
// a normalising client would remove: ".", ".." or empty (an empty last
// segment is a trailing slash, which stays).
func dotOrEmpty(v string, last bool) bool {
	return v == "." || v == ".." || (v == "" && !last)
}

func unescape(s string) string {
	if v, err := url.PathUnescape(s); err == nil {
		return v
	}
	return s
}

// wildcardAt returns the pattern whose segments fit segs with a wildcard at
// index i, and that wildcard's name ("" when no pattern fits).
func (c *canonical) wildcardAt(segs []string, i int) (pattern, name string) {
next:
	for _, p := range c.patterns {
		if len(p) != len(segs) {
			continue
		}
		for j, ps := range p {
			wild := strings.HasPrefix(ps, "{") && strings.HasSuffix(ps, "}")
			switch {
			case j == i && !wild:
				continue next
			case j != i && !wild && ps != unescape(segs[j]):
				continue next
			}
		}
		w := strings.TrimSuffix(strings.TrimPrefix(p[i], "{"), "}")
		if n, ok := c.names[w]; ok {
			w = n
		}
		return "/" + strings.Join(p, "/"), w
	}
	return "", ""
}
