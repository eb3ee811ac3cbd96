package contract

// Status is a tenant's lifecycle state.
type Status string

// The tenant states.
const (
	StatusActive    Status = "active"
	StatusSuspended Status = "suspended"
	StatusDeleted   Status = "deleted"
)
