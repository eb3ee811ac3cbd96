package agent

import "github.com/aerolithdb/aerolith/store"

// Store returns the node's store (after Open): a test-only seam, so the
// agent's API does not hand out its store.
func (a *Agent) Store() *store.Store {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.store
}
