// Package auth decides who is calling the agent's HTTP API and what they may
// do. An Authenticator turns a request into a Principal (tenant, role, key id);
// handlers check the Principal's Role against the role each route declares and
// always use Principal.Tenant as the document tenant, never anything taken
// from the URL. Today the only credential is the cluster admin key (AdminKey);
// tenant-scoped keys plug in later as further Authenticators (see Chain).
package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/aerolithdb/aerolith/internal/bearer"
)

// DefaultTenant is the tenant the cluster admin key and insecure mode act as
// until tenant-scoped keys exist.
const DefaultTenant = "default"

// Role is what a principal may do. Roles are ordered: every role includes the
// rights of the roles below it (RoleRead < RoleReadWrite < RoleAdmin).
type Role int

const (
	// RoleNone grants nothing; it is the zero value so an unset role denies.
	RoleNone Role = iota
	// RoleRead may read documents (get, list, query), the collection and
	// index lists and the tenant's own figures.
	RoleRead
	// RoleReadWrite may additionally write and delete documents (put,
	// delete, batch). It cannot change the tenant's collections or
	// indexes.
	RoleReadWrite
	// RoleAdmin may additionally drop collections, create and drop
	// indexes and manage the tenant's keys. Cluster membership and
	// topology need the cluster admin key, whatever a tenant key's role.
	RoleAdmin
)

// String returns the role's name as used in configuration and error messages.
func (r Role) String() string {
	switch r {
	case RoleNone:
		return "none"
	case RoleRead:
		return "read"
	case RoleReadWrite:
		return "readwrite"
	case RoleAdmin:
		return "admin"
	}
	return fmt.Sprintf("role(%d)", int(r))
}

// ParseRole parses "read", "readwrite" or "admin".
func ParseRole(s string) (Role, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "read":
		return RoleRead, nil
	case "readwrite", "read-write", "write":
		return RoleReadWrite, nil
	case "admin":
		return RoleAdmin, nil
	}
	return RoleNone, fmt.Errorf("unknown role %q: want read, readwrite or admin", s)
}

// Allows reports whether a principal holding r may perform something that
// needs the role need.
func (r Role) Allows(need Role) bool { return need != RoleNone && r >= need }

// Principal is an authenticated caller.
type Principal struct {
	// Tenant is the tenant whose data the caller sees. Handlers use it as the
	// document namespace; nothing in the request can override it.
	Tenant string
	// Role is what the caller may do within Tenant.
	Role Role
	// KeyID names the credential used (never the secret itself); it is safe
	// to log.
	KeyID string
}

// Authenticator identifies the caller of an HTTP request. It returns an error
// wrapping ErrUnauthenticated when the request carries no credential or one
// it does not recognise. Implementations must be safe for concurrent use.
type Authenticator interface {
	Authenticate(r *http.Request) (Principal, error)
}

// Sentinel errors; the HTTP layer maps them to 401 and 403.
var (
	// ErrUnauthenticated means the request has no valid credential.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrPermissionDenied means the credential is valid but its role is too
	// low for the operation.
	ErrPermissionDenied = errors.New("permission denied")
)

// Fixed refusals, made once: authentication runs on every request, and a
// Chain sees the earlier authenticators' refusals on every success of a
// later one.
var (
	errInvalidKey      = fmt.Errorf("%w: invalid key", ErrUnauthenticated)
	errNoAuthenticator = fmt.Errorf("%w: no authenticator configured", ErrUnauthenticated)
)

// Authorize checks that p may perform an operation needing role need. The
// error wraps ErrPermissionDenied and names both roles.
func Authorize(p Principal, need Role) error {
	if p.Role.Allows(need) {
		return nil
	}
	return fmt.Errorf("%w: this operation needs role %s, the key has role %s", ErrPermissionDenied, need, p.Role)
}

// BearerToken extracts the token from an "Authorization: Bearer <token>"
// header. The scheme is case-insensitive. The error wraps ErrUnauthenticated
// and says what is wrong with the header, never echoing the token.
func BearerToken(r *http.Request) (string, error) { return bearer.Token(r, ErrUnauthenticated) }

// AdminKeyID is the KeyID of principals authenticated by an AdminKey.
const AdminKeyID = "admin"

// AdminKey authenticates the cluster admin bearer key (--admin-key). Any
// token may be the admin key, so a Chain should try it after the
// authenticators that recognize their credentials by form. A request
// carrying it acts as RoleAdmin of DefaultTenant. Comparison is constant-time
// (both sides are hashed first, so not even the key's length leaks).
type AdminKey struct {
	sum [sha256.Size]byte
}

var _ Authenticator = (*AdminKey)(nil)

// NewAdminKey returns an AdminKey for key. An empty key, or one containing
// whitespace or control characters (which cannot travel in a header), is
// rejected.
func NewAdminKey(key string) (*AdminKey, error) {
	if key == "" {
		return nil, errors.New("admin key is empty")
	}
	for _, c := range key {
		if c <= ' ' || c == 0x7f {
			return nil, errors.New("admin key contains whitespace or control characters")
		}
	}
	return &AdminKey{sum: sha256.Sum256([]byte(key))}, nil
}

// Authenticate implements Authenticator.
func (k *AdminKey) Authenticate(r *http.Request) (Principal, error) {
	token, err := BearerToken(r)
	if err != nil {
		return Principal{}, err
	}
	var buf [128]byte // keeps a usual token's bytes off the heap
	got := sha256.Sum256(append(buf[:0], token...))
	if subtle.ConstantTimeCompare(got[:], k.sum[:]) != 1 {
		return Principal{}, errInvalidKey
	}
	return Principal{Tenant: DefaultTenant, Role: RoleAdmin, KeyID: AdminKeyID}, nil
}

// InsecureKeyID is the KeyID of principals produced by Insecure.
const InsecureKeyID = "insecure-no-auth"

// Insecure authenticates every request, credential or not, as RoleAdmin of
// DefaultTenant. It backs --insecure-no-auth and is meant for local testing
// only.
type Insecure struct{}

var _ Authenticator = Insecure{}

// Authenticate implements Authenticator; it never fails.
func (Insecure) Authenticate(*http.Request) (Principal, error) {
	return Principal{Tenant: DefaultTenant, Role: RoleAdmin, KeyID: InsecureKeyID}, nil
}

// ErrOtherCredential is the refusal of an Authenticator for a credential
// that is not one of its own: a token without the tenant api key prefix,
// or any token that is not the admin key (AdminKey's only refusal besides
// a bad header). It wraps ErrUnauthenticated; its message is the generic
// "invalid key".
var ErrOtherCredential = errInvalidKey

// Chain tries each Authenticator in order and returns the first success;
// it is how tenant api keys sit next to the admin key. Put authenticators
// that recognize their credentials by form (and refuse others with
// ErrOtherCredential, cheaply) first. An error other than
// ErrUnauthenticated (for example a failed key lookup) stops the chain and
// is returned as is. With no success, the first refusal from an
// authenticator that took the credential for its own is returned (for a
// malformed tenant key, say, what is wrong with it), else the last.
type Chain []Authenticator

var _ Authenticator = Chain(nil)

// Authenticate implements Authenticator.
func (c Chain) Authenticate(r *http.Request) (Principal, error) {
	var first error
	last := errNoAuthenticator
	for _, a := range c {
		p, err := a.Authenticate(r)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, ErrUnauthenticated) {
			return Principal{}, err
		}
		if first == nil && !errors.Is(err, ErrOtherCredential) {
			first = err
		}
		last = err
	}
	if first != nil {
		return Principal{}, first
	}
	return Principal{}, last
}
