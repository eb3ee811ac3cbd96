package seal

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
)

// BlindSize is the length of Blind's output.
const BlindSize = 16

// blindLabel derives a scope's blinding key from its first data key.
const blindLabel = "aerolith seal blind index v1"

// Blind returns a keyed 16-byte digest of value for scope:
// HMAC-SHA256(blinding key, value) truncated to BlindSize. The blinding key
// is derived from the scope's data key version 1, so it does not change
// when data keys rotate: equal values blind equally for the scope's whole
// life (what an equality index needs), while the digest reveals nothing
// about the value to someone without the key beyond equality with other
// digests. Errors: ErrNoKey if the scope has no version 1,
// ErrKeyUnavailable if it is not unwrapped on this node.
func (k *Keyring) Blind(scope string, value []byte) ([]byte, error) {
	k.mu.RLock()
	dk := k.lookup(scope, 1)
	k.mu.RUnlock()
	if dk == nil {
		return nil, fmt.Errorf("%w: scope %q has no key version 1", ErrNoKey, scope)
	}
	if dk.key == nil {
		return nil, fmt.Errorf("%w: scope %q version 1", ErrKeyUnavailable, scope)
	}
	d := hmac.New(sha256.New, dk.key)
	d.Write([]byte(blindLabel))
	bk := d.Sum(nil)
	defer clear(bk)
	m := hmac.New(sha256.New, bk)
	m.Write(value)
	return m.Sum(nil)[:BlindSize], nil
}
