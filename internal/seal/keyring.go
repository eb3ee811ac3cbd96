package seal

import (
	"bytes"
	"context"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
)

// Limits on the fields of a WrappedDEK.
const (
	maxScope   = 1024
	maxID      = 255
	maxWrapped = 8192
	checkSize  = 16
)

// WrappedDEK is one version of a scope's data-encryption key in its storable
// form: the key wrapped by a master key, plus what is needed to find that
// master key and to recognise the key again. It contains no key material and
// is safe to store and replicate (a raft command, a bbolt bucket). Its JSON
// form encodes byte fields as base64.
type WrappedDEK struct {
	// Scope is what the key encrypts for, e.g. a tenant id.
	Scope string `json:"scope"`
	// Version numbers the scope's keys from 1; the highest is current.
	Version uint32 `json:"version"`
	// MasterKeyID is the ID of the KeyWrapper that wrapped the key.
	MasterKeyID string `json:"master_key_id"`
	// Wrapped is the key as the wrapper returned it; the wrapper's
	// associated data binds it to Scope and Version.
	Wrapped []byte `json:"wrapped"`
	// Check is a 16-byte key check value (HMAC-SHA256 of a constant under
	// the key): it identifies the key across re-wrapping without revealing
	// it, and tells a conflicting key under the same version apart.
	Check []byte `json:"check"`
	// CreatedAt is when the proposer generated the key.
	CreatedAt time.Time `json:"created_at"`
}

// validate checks the fields' shape; it is deterministic and does no I/O.
func (w WrappedDEK) validate() error {
	switch {
	case w.Scope == "":
		return errors.New("seal: wrapped key: scope: empty")
	case len(w.Scope) > maxScope:
		return fmt.Errorf("seal: wrapped key: scope: %d bytes, at most %d", len(w.Scope), maxScope)
	case w.Version == 0:
		return fmt.Errorf("seal: wrapped key for scope %q: version: must be at least 1", w.Scope)
	case w.MasterKeyID == "" || len(w.MasterKeyID) > maxID:
		return fmt.Errorf("seal: wrapped key for scope %q version %d: master_key_id: want 1 to %d bytes", w.Scope, w.Version, maxID)
	case len(w.Wrapped) == 0 || len(w.Wrapped) > maxWrapped:
		return fmt.Errorf("seal: wrapped key for scope %q version %d: wrapped: want 1 to %d bytes", w.Scope, w.Version, maxWrapped)
	case len(w.Check) != checkSize:
		return fmt.Errorf("seal: wrapped key for scope %q version %d: check: want %d bytes", w.Scope, w.Version, checkSize)
	}
	return nil
}

// String names the key without its wrapped bytes.
func (w WrappedDEK) String() string {
	return fmt.Sprintf("seal.WrappedDEK(scope=%q version=%d master=%s)", w.Scope, w.Version, w.MasterKeyID)
}

// Config configures a Keyring.
type Config struct {
	// Wrapper wraps new data keys (NewVersion, Rewrap). Required.
	Wrapper KeyWrapper
	// Previous are master keys that are being retired: still used to unwrap
	// data keys wrapped under them, never to wrap. After a master key
	// rotation (Rewrap) has been applied everywhere, MasterKeyIDs no longer
	// lists them and they can be removed.
	Previous []KeyWrapper
}

// Keyring holds the data-encryption keys (DEKs) of many scopes, each in
// numbered versions, and seals and opens values with them.
//
// Its replicated state is the set of WrappedDEKs: Keys/Export give it,
// Install and Load change it. Install and Load are deterministic in what
// they accept or reject, so a raft state machine can apply them on every
// replica: the proposer makes the non-deterministic part (the random key)
// with NewVersion or Rewrap and proposes the resulting WrappedDEKs. The
// unwrapped keys are local to this node: a node that cannot unwrap a key
// still records it, and returns ErrKeyUnavailable for it until Unlock.
//
// A Keyring is safe for concurrent use. No fmt verb or slog prints key
// material.
type Keyring struct {
	wrapper  KeyWrapper
	wrappers map[string]KeyWrapper

	mu     sync.RWMutex
	scopes map[string]*scopeKeys
}

type scopeKeys struct {
	current  uint32
	versions map[uint32]*dataKey
}

// dataKey is one installed version. Replaced, never mutated, once shared.
type dataKey struct {
	w    WrappedDEK
	key  []byte      // nil if not unwrapped on this node
	aead cipher.AEAD // nil if not unwrapped on this node
}

// New returns an empty keyring. It does no I/O.
func New(cfg Config) (*Keyring, error) {
	if cfg.Wrapper == nil {
		return nil, errors.New("seal: config: Wrapper: required")
	}
	k := &Keyring{wrapper: cfg.Wrapper, wrappers: map[string]KeyWrapper{}, scopes: map[string]*scopeKeys{}}
	for i, w := range append([]KeyWrapper{cfg.Wrapper}, cfg.Previous...) {
		if w == nil {
			return nil, fmt.Errorf("seal: config: Previous[%d]: nil", i-1)
		}
		id := w.ID()
		if id == "" || len(id) > maxID {
			return nil, fmt.Errorf("seal: config: master key id %q: want 1 to %d bytes", id, maxID)
		}
		if _, dup := k.wrappers[id]; dup {
			return nil, fmt.Errorf("seal: config: master key %s given twice", id)
		}
		k.wrappers[id] = w
	}
	return k, nil
}

// dekAAD binds a wrapped key to its scope and version.
func dekAAD(scope string, version uint32) []byte {
	const label = "aerolith seal dek v1\x00"
	b := make([]byte, 0, len(label)+2+len(scope)+4)
	b = append(b, label...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(scope)))
	b = append(b, scope...)
	return binary.BigEndian.AppendUint32(b, version)
}

// keyCheck is the key check value stored in WrappedDEK.Check.
func keyCheck(key []byte) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("aerolith seal key check v1"))
	return mac.Sum(nil)[:checkSize]
}

// NewVersion generates a fresh random data key for scope, numbered one after
// the scope's current version here, and returns it wrapped under the current
// master key. It does not change the keyring: install the result with
// Install — on every replica, through raft. If another version was
// installed meanwhile, Install rejects it with ErrVersionConflict and the
// caller makes a new one.
func (k *Keyring) NewVersion(ctx context.Context, scope string) (WrappedDEK, error) {
	k.mu.RLock()
	var cur uint32
	if sk := k.scopes[scope]; sk != nil {
		cur = sk.current
	}
	k.mu.RUnlock()
	key := make([]byte, KeySize)
	defer clear(key)
	rand.Read(key)
	return k.wrap(ctx, WrappedDEK{Scope: scope, Version: cur + 1, Check: keyCheck(key), CreatedAt: time.Now().UTC()}, key)
}

// wrap fills w.Wrapped and w.MasterKeyID with key wrapped by the current
// master key, and validates the result.
func (k *Keyring) wrap(ctx context.Context, w WrappedDEK, key []byte) (WrappedDEK, error) {
	if w.Version == 0 {
		return WrappedDEK{}, fmt.Errorf("seal: scope %q: no key version left", w.Scope)
	}
	if w.Scope == "" || len(w.Scope) > maxScope {
		return WrappedDEK{}, fmt.Errorf("seal: scope: want 1 to %d bytes, got %d", maxScope, len(w.Scope))
	}
	wrapped, err := k.wrapper.Wrap(ctx, key, dekAAD(w.Scope, w.Version))
	if err != nil {
		return WrappedDEK{}, fmt.Errorf("seal: wrap key for scope %q version %d under %s: %w", w.Scope, w.Version, k.wrapper.ID(), err)
	}
	w.Wrapped, w.MasterKeyID = wrapped, k.wrapper.ID()
	if err := w.validate(); err != nil {
		return WrappedDEK{}, err
	}
	return w, nil
}

// unwrap recovers the key of w with the wrapper it names and checks it
// against w.Check. Errors wrap ErrKeyUnavailable.
func (k *Keyring) unwrap(ctx context.Context, w WrappedDEK) (*dataKey, error) {
	wr := k.wrappers[w.MasterKeyID]
	if wr == nil {
		return nil, fmt.Errorf("%w: scope %q version %d is wrapped under master key %q, which is not configured on this node", ErrKeyUnavailable, w.Scope, w.Version, w.MasterKeyID)
	}
	key, err := wr.Unwrap(ctx, w.Wrapped, dekAAD(w.Scope, w.Version))
	if err != nil {
		return nil, fmt.Errorf("%w: scope %q version %d: %w", ErrKeyUnavailable, w.Scope, w.Version, err)
	}
	if len(key) != KeySize || !hmac.Equal(keyCheck(key), w.Check) {
		clear(key)
		return nil, fmt.Errorf("%w: scope %q version %d: unwrapped key does not match its check value", ErrKeyUnavailable, w.Scope, w.Version)
	}
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, fmt.Errorf("%w: scope %q version %d: %w", ErrKeyUnavailable, w.Scope, w.Version, err)
	}
	return &dataKey{w: w, key: key, aead: aead}, nil
}

// Install adds data keys made by NewVersion or re-wrapped by Rewrap, all or
// none. For each key, in order:
//   - a new version must be the scope's current version + 1 and becomes
//     current;
//   - a version already installed with the same key (same check value) is a
//     re-wrap: its stored wrapped form is replaced; installing it again
//     unchanged is a no-op, so replaying a raft entry is harmless;
//   - anything else is rejected with ErrVersionConflict.
//
// Acceptance depends only on the keyring's recorded state and the input, so
// replicas agree. Unwrapping happens here too (an I/O call for a KMS
// wrapper); if a key cannot be unwrapped on this node it is recorded anyway
// and the returned error wraps ErrKeyUnavailable: that is not a rejection
// (the state changed); other errors are, and leave the keyring unchanged.
func (k *Keyring) Install(ctx context.Context, keys ...WrappedDEK) error {
	for _, w := range keys {
		if err := w.validate(); err != nil {
			return err
		}
	}
	// Unwrap outside the lock, skipping keys already held in that form.
	unwrapped := make([]*dataKey, len(keys))
	var unavailable []error
	for i, w := range keys {
		k.mu.RLock()
		have := k.lookup(w.Scope, w.Version)
		k.mu.RUnlock()
		if have != nil && have.aead != nil && have.w.MasterKeyID == w.MasterKeyID && bytes.Equal(have.w.Wrapped, w.Wrapped) {
			unwrapped[i] = &dataKey{w: w, key: have.key, aead: have.aead}
			continue
		}
		dk, err := k.unwrap(ctx, w)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			unavailable = append(unavailable, err)
			dk = &dataKey{w: w}
		}
		unwrapped[i] = dk
	}

	k.mu.Lock()
	defer k.mu.Unlock()
	// Validate against a staged view of the touched scopes, then commit.
	staged := map[string]*scopeKeys{}
	for _, dk := range unwrapped {
		w := dk.w
		sk := staged[w.Scope]
		if sk == nil {
			sk = &scopeKeys{versions: map[uint32]*dataKey{}}
			if old := k.scopes[w.Scope]; old != nil {
				sk.current = old.current
				for v, d := range old.versions {
					sk.versions[v] = d
				}
			}
			staged[w.Scope] = sk
		}
		if have := sk.versions[w.Version]; have != nil {
			if !bytes.Equal(have.w.Check, w.Check) {
				return fmt.Errorf("%w: scope %q version %d is already installed with another key", ErrVersionConflict, w.Scope, w.Version)
			}
			if have.w.MasterKeyID == w.MasterKeyID && bytes.Equal(have.w.Wrapped, w.Wrapped) {
				continue
			}
			if dk.aead == nil && have.aead != nil {
				dk.key, dk.aead = have.key, have.aead
			}
			w.CreatedAt = have.w.CreatedAt
			dk.w = w
			sk.versions[w.Version] = dk
			continue
		}
		if w.Version != sk.current+1 {
			return fmt.Errorf("%w: scope %q version %d does not follow current version %d", ErrVersionConflict, w.Scope, w.Version, sk.current)
		}
		sk.versions[w.Version] = dk
		sk.current = w.Version
	}
	for s, sk := range staged {
		k.scopes[s] = sk
	}
	return joinUnavailable(unavailable)
}

// joinUnavailable reports the first unwrap failure and how many more there
// were (the list can be as long as the number of tenants).
func joinUnavailable(errs []error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return fmt.Errorf("%w (and %d more keys)", errs[0], len(errs)-1)
}

// lookup returns an installed version or nil. Callers hold k.mu.
func (k *Keyring) lookup(scope string, version uint32) *dataKey {
	if sk := k.scopes[scope]; sk != nil {
		return sk.versions[version]
	}
	return nil
}

// Rotate makes a new current data key for scope on this keyring only
// (NewVersion then Install) and returns its version. A replicated keyring
// must instead propose NewVersion's result through raft.
func (k *Keyring) Rotate(ctx context.Context, scope string) (uint32, error) {
	for attempt := 0; ; attempt++ {
		w, err := k.NewVersion(ctx, scope)
		if err != nil {
			return 0, err
		}
		err = k.Install(ctx, w)
		if errors.Is(err, ErrVersionConflict) && attempt < 10 {
			continue // a concurrent Rotate took this version
		}
		if err != nil {
			return 0, err
		}
		return w.Version, nil
	}
}

// Current returns scope's current key version, or false if it has none.
func (k *Keyring) Current(scope string) (uint32, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if sk := k.scopes[scope]; sk != nil {
		return sk.current, true
	}
	return 0, false
}

// Keys returns every installed WrappedDEK sorted by scope and version: the
// keyring's replicated state, e.g. to store one bucket entry per key.
func (k *Keyring) Keys() []WrappedDEK {
	k.mu.RLock()
	out := make([]WrappedDEK, 0, len(k.scopes))
	for _, sk := range k.scopes {
		for _, dk := range sk.versions {
			out = append(out, dk.w)
		}
	}
	k.mu.RUnlock()
	slices.SortFunc(out, func(a, b WrappedDEK) int {
		if c := strings.Compare(a.Scope, b.Scope); c != 0 {
			return c
		}
		return int(int64(a.Version) - int64(b.Version))
	})
	return out
}

// MasterKeyIDs counts installed keys by the master key that wraps them.
// After a master key rotation, a previous master key can be retired once
// its id is no longer listed on any node.
func (k *Keyring) MasterKeyIDs() map[string]int {
	k.mu.RLock()
	defer k.mu.RUnlock()
	out := map[string]int{}
	for _, sk := range k.scopes {
		for _, dk := range sk.versions {
			out[dk.w.MasterKeyID]++
		}
	}
	return out
}

// Rewrap wraps every data key not yet under the current master key
// (Config.Wrapper) under it, and returns the re-wrapped keys for Install —
// through raft on a replicated keyring, directly otherwise (RewrapAll).
// Data sealed with the keys is untouched and stays readable. Every replica
// must hold the new master key before the result is applied. Keys not
// unwrapped on this node make it fail with ErrKeyUnavailable.
func (k *Keyring) Rewrap(ctx context.Context) ([]WrappedDEK, error) {
	cur := k.wrapper.ID()
	var todo []*dataKey
	for _, w := range k.Keys() {
		if w.MasterKeyID == cur {
			continue
		}
		k.mu.RLock()
		dk := k.lookup(w.Scope, w.Version)
		k.mu.RUnlock()
		if dk == nil || dk.aead == nil {
			return nil, fmt.Errorf("%w: scope %q version %d: cannot re-wrap a key this node has not unwrapped", ErrKeyUnavailable, w.Scope, w.Version)
		}
		todo = append(todo, dk)
	}
	out := make([]WrappedDEK, 0, len(todo))
	for _, dk := range todo {
		w, err := k.wrap(ctx, dk.w, dk.key)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, nil
}

// RewrapAll re-wraps every data key under the current master key on this
// keyring only (Rewrap then Install) and returns how many it re-wrapped.
func (k *Keyring) RewrapAll(ctx context.Context) (int, error) {
	ws, err := k.Rewrap(ctx)
	if err != nil {
		return 0, err
	}
	return len(ws), k.Install(ctx, ws...)
}

// Unlock retries unwrapping keys recorded but not unwrapped on this node
// (after a master key was configured or a key service recovered). It returns
// nil once every key is unwrapped, else an error wrapping ErrKeyUnavailable.
func (k *Keyring) Unlock(ctx context.Context) error {
	var locked []WrappedDEK
	k.mu.RLock()
	for _, sk := range k.scopes {
		for _, dk := range sk.versions {
			if dk.aead == nil {
				locked = append(locked, dk.w)
			}
		}
	}
	k.mu.RUnlock()
	var unavailable []error
	for _, w := range locked {
		dk, err := k.unwrap(ctx, w)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			unavailable = append(unavailable, err)
			continue
		}
		k.mu.Lock()
		if have := k.lookup(w.Scope, w.Version); have != nil && have.aead == nil && bytes.Equal(have.w.Wrapped, w.Wrapped) {
			k.scopes[w.Scope].versions[w.Version] = dk
		}
		k.mu.Unlock()
	}
	return joinUnavailable(unavailable)
}

// exportFormat is the version of Export's encoding.
const exportFormat = 1

type exported struct {
	Format int          `json:"format"`
	Keys   []WrappedDEK `json:"keys"`
}

// Export encodes the keyring's replicated state (its WrappedDEKs, sorted)
// as JSON; the same state always encodes to the same bytes. It contains no
// key material: only keys wrapped by master keys.
func (k *Keyring) Export() ([]byte, error) {
	return json.Marshal(exported{Format: exportFormat, Keys: k.Keys()})
}

// ParseKeys decodes Export's encoding strictly (unknown fields, trailing
// data, invalid or duplicate keys are errors) without installing anything.
func ParseKeys(data []byte) ([]WrappedDEK, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var e exported
	if err := dec.Decode(&e); err != nil {
		return nil, fmt.Errorf("seal: keyring: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("seal: keyring: trailing data after the JSON object")
	}
	if e.Format != exportFormat {
		return nil, fmt.Errorf("seal: keyring: format: %d, want %d", e.Format, exportFormat)
	}
	type sv struct {
		scope   string
		version uint32
	}
	seen := make(map[sv]bool, len(e.Keys))
	for i, w := range e.Keys {
		if err := w.validate(); err != nil {
			return nil, fmt.Errorf("seal: keyring: keys[%d]: %w", i, err)
		}
		if seen[sv{w.Scope, w.Version}] {
			return nil, fmt.Errorf("seal: keyring: keys[%d]: scope %q version %d given twice", i, w.Scope, w.Version)
		}
		seen[sv{w.Scope, w.Version}] = true
	}
	return e.Keys, nil
}

// Load replaces the keyring's state with Export's encoding (e.g. after a
// raft snapshot restore, or at start from the replicated bucket). Each
// scope's current version is its highest. Keys that cannot be unwrapped on
// this node are recorded and reported with ErrKeyUnavailable (the state was
// replaced); any other error leaves the keyring unchanged.
func (k *Keyring) Load(ctx context.Context, data []byte) error {
	keys, err := ParseKeys(data)
	if err != nil {
		return err
	}
	return k.Replace(ctx, keys...)
}

// Replace is Load from decoded keys (see Load).
func (k *Keyring) Replace(ctx context.Context, keys ...WrappedDEK) error {
	scopes := map[string]*scopeKeys{}
	var unavailable []error
	for _, w := range keys {
		if err := w.validate(); err != nil {
			return err
		}
		sk := scopes[w.Scope]
		if sk == nil {
			sk = &scopeKeys{versions: map[uint32]*dataKey{}}
			scopes[w.Scope] = sk
		}
		if sk.versions[w.Version] != nil {
			return fmt.Errorf("seal: keyring: scope %q version %d given twice", w.Scope, w.Version)
		}
		k.mu.RLock()
		have := k.lookup(w.Scope, w.Version)
		k.mu.RUnlock()
		if have != nil && have.aead != nil && have.w.MasterKeyID == w.MasterKeyID && bytes.Equal(have.w.Wrapped, w.Wrapped) {
			// Already unwrapped here (a snapshot restore on a running
			// node): no second trip to the key service.
			sk.versions[w.Version] = &dataKey{w: w, key: have.key, aead: have.aead}
			sk.current = max(sk.current, w.Version)
			continue
		}
		dk, err := k.unwrap(ctx, w)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			unavailable = append(unavailable, err)
			dk = &dataKey{w: w}
		}
		sk.versions[w.Version] = dk
		sk.current = max(sk.current, w.Version)
	}
	k.mu.Lock()
	k.scopes = scopes
	k.mu.Unlock()
	return joinUnavailable(unavailable)
}

// String summarises the keyring without key material.
func (k *Keyring) String() string {
	k.mu.RLock()
	n := 0
	for _, sk := range k.scopes {
		n += len(sk.versions)
	}
	scopes := len(k.scopes)
	k.mu.RUnlock()
	return fmt.Sprintf("seal.Keyring(%d scopes, %d keys, master key %s)", scopes, n, k.wrapper.ID())
}

// GoString is String.
func (k *Keyring) GoString() string { return k.String() }

// Format prints String for every verb.
func (k *Keyring) Format(f fmt.State, _ rune) { io.WriteString(f, k.String()) }

// LogValue makes slog print String.
func (k *Keyring) LogValue() slog.Value { return slog.StringValue(k.String()) }
