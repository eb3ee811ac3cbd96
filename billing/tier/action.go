package tier

// Describe says what agents do when a tenant on a tier with this action
// reaches a limit, for the pricing page and the README's tier table. The
// query duration limit holds under every action (the query is cancelled).
func (a QuotaAction) Describe() string {
	switch a {
	case Block:
		return "hard limits: a request over a rate or connection limit is refused (429 with Retry-After), " +
			"a write over the storage limit with 507, over the collection or document count with 429"
	case Throttle:
		return "rate and connection limits delay a request until it fits (a bounded wait, then 429 like block); " +
			"count and storage limits are refused like block"
	case AllowWithOverage:
		return "soft limits: a request over a limit is served and its usage billed at the overage prices; " +
			"the answer carries the header Aerolith-Quota-Warning naming the limit"
	case Warn:
		return "soft limits: a request over a limit is served with the header Aerolith-Quota-Warning and logged " +
			"by the agent; priced usage is billed"
	}
	return "unknown quota action " + string(a)
}
