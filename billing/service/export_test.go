package service

import "github.com/aerolithdb/aerolith/store"

// Store returns the replica's store (after Open): a test-only seam, so the
// service's API does not hand out its store.
func (s *Service) Store() *store.Store {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.store
}
