package main

import (
	"net/http"
	"strings"

	"github.com/spf13/cobra"

	"github.com/aerolithdb/aerolith/internal/apiclient"
)

// fieldsAnnotation records on a command which of its flags and arguments
// set which fields of the API requests it sends, as "field=--flag" pairs
// separated by ";".
const fieldsAnnotation = "aerolith/fields"

// apiFields records on cmd that each API field is set by a flag or an
// argument: pairs of field and flag ("tenant_id", "--tenant", "invoice_id",
// "INVOICE_ID"). A subcommand's pairs are read before its parents'.
func apiFields(cmd *cobra.Command, pairs ...string) *cobra.Command {
	if len(pairs)%2 != 0 {
		panic("apiFields: pairs of field and flag, got " + strings.Join(pairs, " "))
	}
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	var b strings.Builder
	b.WriteString(cmd.Annotations[fieldsAnnotation])
	for i := 0; i < len(pairs); i += 2 {
		if b.Len() > 0 {
			b.WriteByte(';')
		}
		b.WriteString(pairs[i] + "=" + pairs[i+1])
	}
	cmd.Annotations[fieldsAnnotation] = b.String()
	return cmd
}

// flagFor returns the flag or argument of cmd, or of its nearest parent
// that names one, that sets the API field; "" when none does.
func flagFor(cmd *cobra.Command, field string) string {
	for c := cmd; c != nil; c = c.Parent() {
		for _, pair := range strings.Split(c.Annotations[fieldsAnnotation], ";") {
			if f, flag, ok := strings.Cut(pair, "="); ok && f == field {
				return flag
			}
		}
	}
	return ""
}

// fieldError is the server's refusal of a request field, worded for the
// flag or argument that set it.
type fieldError struct {
	flag string
	err  *apiclient.Error
}

// Error replaces the field's name, which starts the server's message, by
// the flag's: "--tenant: required with an admin key (the tenant to act
// for)".
func (e *fieldError) Error() string {
	_, rest, _ := strings.Cut(e.err.Message, ":")
	return e.flag + ":" + rest
}

func (e *fieldError) Unwrap() error { return e.err }

// flagError rewords err when it is the server's 400 about a request field
// that one of cmd's flags or arguments set (the API's messages start with
// the field's name, "tenant_id: required", which is not what the user
// typed), and marks it as a usage error (exit 2): the command was called
// without what it needs. Anything else is returned as it is.
func flagError(cmd *cobra.Command, err error) error {
	apiErr, ok := err.(*apiclient.Error)
	if !ok || apiErr.Status != http.StatusBadRequest {
		return err
	}
	field, _, ok := strings.Cut(apiErr.Message, ":")
	if !ok {
		return err
	}
	flag := flagFor(cmd, field)
	if flag == "" {
		return err
	}
	return usageError{&fieldError{flag: flag, err: apiErr}}
}
