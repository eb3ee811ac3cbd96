package httpapi

import (
	"net/http"

	"github.com/aerolithdb/aerolith/internal/jsonapi"
)

// knownQuery refuses query parameters a list route does not take with 400
// naming them (jsonapi.CheckQuery), so a misspelt filter or page size is
// an error instead of an answer to another question.
func knownQuery(r *http.Request, allowed ...string) error {
	if err := jsonapi.CheckRawQuery(r.URL.RawQuery, allowed...); err != nil {
		return jsonapi.Invalid("%v", err)
	}
	return nil
}
