// Package discover finds the raft addresses of a cluster's members for
// nodes launched without knowing each other's addresses (cloud VMs started
// from one user data). It is used with --bootstrap-expect N in place of
// --join: the agent asks its Provider until N nodes (itself included) are
// known, then forms or joins the cluster exactly as with --join.
//
// A discovery string (--discover) names a provider and its settings as
// space-separated key=value pairs (a value may be double-quoted, Go
// syntax, to hold spaces):
//
//	billing                                   the billing service's node registry (managed agents)
//	provider=aws region=R tag_key=K tag_value=V [endpoint=URL] [port=N]
//	provider=gcp project=P zone=Z label_key=K label_value=V [endpoint=URL] [port=N]
//	provider=azure subscription_id=S [resource_group=G] tag_key=K tag_value=V [endpoint=URL] [port=N]
//
// Each provider is one implementation of Provider: billing's registry
// (NewBilling, fed by the agent's billing client) and cloud tags (NewAWS,
// EC2 DescribeInstances through aws-sdk-go-v2). Parse checks the string
// against the table of providers, so adding a cloud (gcp, azure) is one
// table entry and one constructor.
package discover

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Provider lists the raft addresses (host:port) of the cluster's
// prospective members it knows now. The list may include the asking node
// itself and nodes that have not started yet. Implementations are safe
// for concurrent use.
type Provider interface {
	Addrs(ctx context.Context) ([]string, error)
	// String describes the provider for logs (no secrets).
	String() string
}

// Provider names.
const (
	ProviderBilling = "billing"
	ProviderAWS     = "aws"
	ProviderGCP     = "gcp"
	ProviderAzure   = "azure"
)

// maxLen bounds a discovery string.
const maxLen = 4096

// providerSpec is what Parse accepts for one provider.
type providerSpec struct {
	required []string
	optional []string
}

// providers is the table of providers and their settings.
var providers = map[string]providerSpec{
	ProviderBilling: {},
	ProviderAWS:     {required: []string{"region", "tag_key", "tag_value"}, optional: []string{"endpoint", "port"}},
	ProviderGCP:     {required: []string{"project", "zone", "label_key", "label_value"}, optional: []string{"endpoint", "port"}},
	ProviderAzure:   {required: []string{"subscription_id", "tag_key", "tag_value"}, optional: []string{"resource_group", "endpoint", "port"}},
}

// Config is a parsed discovery string.
type Config struct {
	// Provider names the provider (ProviderBilling, ProviderAWS).
	Provider string
	// Args are the provider's settings (every key but provider).
	Args map[string]string
}

// String renders c as a discovery string that Parse reads back.
func (c Config) String() string {
	keys := make([]string, 0, len(c.Args))
	for k := range c.Args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("provider=" + c.Provider)
	for _, k := range keys {
		v := c.Args[k]
		if v == "" || strings.ContainsAny(v, " \t\"\\") {
			v = strconv.Quote(v)
		}
		b.WriteString(" " + k + "=" + v)
	}
	return b.String()
}

// Parse reads a discovery string. Errors start with "discover:" and name
// what is wrong: an empty string, a word that is not key=value, a key
// given twice, an unknown provider (naming those supported), a setting
// the provider does not know or lacks, a bad value (port, endpoint).
func Parse(s string) (Config, error) {
	if len(s) > maxLen {
		return Config{}, fmt.Errorf("discover: longer than %d characters", maxLen)
	}
	words, err := split(s)
	if err != nil {
		return Config{}, err
	}
	if len(words) == 0 {
		return Config{}, fmt.Errorf("discover: empty; give %q or %q", ProviderBilling, "provider=aws region=R tag_key=K tag_value=V")
	}
	if len(words) == 1 && words[0] == ProviderBilling {
		return Config{Provider: ProviderBilling, Args: map[string]string{}}, nil
	}
	args := map[string]string{}
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if !ok || k == "" {
			return Config{}, fmt.Errorf("discover: %q is not key=value (e.g. region=eu-west-1)", clip(w))
		}
		if _, dup := args[k]; dup {
			return Config{}, fmt.Errorf("discover: %q is given twice", clip(k))
		}
		args[k] = v
	}
	name, ok := args["provider"]
	if !ok {
		return Config{}, fmt.Errorf("discover: provider=NAME is required (supported: %s)", supported())
	}
	delete(args, "provider")
	spec, ok := providers[name]
	if !ok {
		return Config{}, fmt.Errorf("discover: unknown provider %q (supported: %s)", clip(name), supported())
	}
	known := append(slices.Clone(spec.required), spec.optional...)
	for k := range args {
		if !slices.Contains(known, k) {
			if len(known) == 0 {
				return Config{}, fmt.Errorf("discover: provider %s takes no settings, got %q", name, clip(k))
			}
			return Config{}, fmt.Errorf("discover: unknown setting %q for provider %s (known: %s)", clip(k), name, strings.Join(known, ", "))
		}
	}
	for _, k := range spec.required {
		if args[k] == "" {
			return Config{}, fmt.Errorf("discover: provider %s needs %s=VALUE", name, k)
		}
	}
	if p, ok := args["port"]; ok {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return Config{}, fmt.Errorf("discover: port: %q is not a port number (1-65535)", clip(p))
		}
	}
	if e, ok := args["endpoint"]; ok {
		u, err := url.Parse(e)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return Config{}, fmt.Errorf("discover: endpoint: %q is not an http(s) URL", clip(e))
		}
	}
	if name == ProviderAWS {
		if err := checkTag(args["tag_key"], args["tag_value"]); err != nil {
			return Config{}, err
		}
	}
	if name == ProviderGCP {
		if err := checkGCP(args); err != nil {
			return Config{}, err
		}
	}
	return Config{Provider: name, Args: args}, nil
}

// checkTag applies EC2's tag limits (key 1-128, value up to 256
// characters, no "aws:" prefix on keys one may set).
func checkTag(key, value string) error {
	if n := len([]rune(key)); n > 128 {
		return fmt.Errorf("discover: tag_key: %d characters, EC2 allows 128", n)
	}
	if n := len([]rune(value)); n > 256 {
		return fmt.Errorf("discover: tag_value: %d characters, EC2 allows 256", n)
	}
	return nil
}

// split cuts s into words at spaces and tabs; a double-quoted part (Go
// syntax) may hold them.
func split(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
			i++
		case c == '"':
			end := i + 1
			for end < len(s) && s[end] != '"' {
				if s[end] == '\\' {
					end++
				}
				end++
			}
			if end >= len(s) {
				return nil, fmt.Errorf("discover: unterminated quote at character %d", i+1)
			}
			v, err := strconv.Unquote(s[i : end+1])
			if err != nil {
				return nil, fmt.Errorf("discover: bad quoted value at character %d: %v", i+1, err)
			}
			cur.WriteString(v)
			inWord = true
			i = end + 1
		case c < ' ' || c == 0x7f:
			return nil, fmt.Errorf("discover: control character at character %d", i+1)
		default:
			cur.WriteByte(c)
			inWord = true
			i++
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

func supported() string {
	names := make([]string, 0, len(providers))
	for n := range providers {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// Backoff between discovery rounds.
const (
	minBackoff = 200 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// Wait asks p, with backoff, until at least expect distinct addresses are
// known counting self (this node's raft address), and returns them sorted
// with self included. A failing round (the provider's service not
// reachable yet) is logged and retried; only ctx ends the wait.
func Wait(ctx context.Context, p Provider, expect int, self string, log *slog.Logger) ([]string, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	backoff := minBackoff
	lastN := -1
	for {
		addrs, err := p.Addrs(ctx)
		if err == nil {
			set := map[string]bool{self: true}
			for _, a := range addrs {
				set[a] = true
			}
			out := make([]string, 0, len(set))
			for a := range set {
				out = append(out, a)
			}
			sort.Strings(out)
			if len(out) >= expect {
				log.Info("discovered the cluster's nodes", "provider", p.String(), "addrs", out)
				return out, nil
			}
			if len(out) != lastN {
				log.Info("waiting for nodes to be discovered", "provider", p.String(), "known", len(out), "bootstrap_expect", expect)
				lastN = len(out)
			}
		} else {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			log.Warn("discovery failed; retrying", "provider", p.String(), "err", err, "retry_in", backoff)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// billing is the billing node registry provider.
type billing struct {
	list func(ctx context.Context) ([]string, error)
}

// NewBilling returns the billing registry provider: list returns the raft
// addresses of the nodes registered for the cluster (the agent's billing
// client behind GET /api/v1/clusters/{id}, with the enrollment token).
func NewBilling(list func(ctx context.Context) ([]string, error)) Provider {
	return billing{list: list}
}

func (b billing) Addrs(ctx context.Context) ([]string, error) { return b.list(ctx) }
func (billing) String() string                                { return ProviderBilling }

// hostPort joins an address found by a provider with the raft port.
func hostPort(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }

// errNoPort is returned by constructors needing a raft port they were not
// given.
var errNoPort = errors.New("discover: the raft port is unknown; give port=N")
