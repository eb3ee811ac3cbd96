package apiclient

import (
	"fmt"
	"net/http"
)

// maxRedirects is how many redirects a GET or HEAD follows, as
// http.Client's default policy.
const maxRedirects = 10

// CheckRedirect is the redirect policy of every Client (set on its
// http.Client by New): only a GET or HEAD request follows a redirect. Any
// other method stops at the 3xx, which comes back as an *Error naming the
// redirect: following it would resend a write to another resource (a
// DELETE of /collections/c/documents/.. redirected to /collections/c
// drops the collection), and http.Client turns a POST or DELETE redirected
// by 301, 302 or 303 into a GET, which would report a write that never
// happened as done.
func CheckRedirect(req *http.Request, via []*http.Request) error {
	if len(via) == 0 {
		return nil
	}
	first := via[0]
	if first.Method != http.MethodGet && first.Method != http.MethodHead {
		status := 0
		if req.Response != nil {
			status = req.Response.StatusCode
		}
		return &Error{
			Status: status,
			Code:   "redirect_refused",
			Message: fmt.Sprintf("%s %s was answered with a redirect to %s, which was not followed: only GET and HEAD follow redirects, so nothing was sent there",
				first.Method, first.URL.Path, req.URL.Path),
		}
	}
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	return nil
}

// withRedirectPolicy returns a copy of hc whose CheckRedirect is
// CheckRedirect (after hc's own policy, when it has one).
func withRedirectPolicy(hc *http.Client) *http.Client {
	c := *hc
	own := hc.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if err := CheckRedirect(req, via); err != nil {
			return err
		}
		if own != nil {
			return own(req, via)
		}
		return nil
	}
	return &c
}
