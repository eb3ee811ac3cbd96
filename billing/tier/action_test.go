package tier

import (
	"strings"
	"testing"
)

func TestQuotaActionDescribe(t *testing.T) {
	for _, a := range []QuotaAction{Block, Throttle, AllowWithOverage, Warn} {
		if d := a.Describe(); d == "" || strings.HasPrefix(d, "unknown") {
			t.Errorf("%s.Describe() = %q", a, d)
		}
	}
	if d := QuotaAction("x").Describe(); !strings.Contains(d, "unknown quota action x") {
		t.Errorf("unknown action described as %q", d)
	}
}
