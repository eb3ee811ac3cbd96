// Package csvcell defuses CSV injection (OWASP "CSV Injection"): a cell
// that starts with '=', '+', '-', '@', a tab or a carriage return is run
// as a formula by spreadsheet programs, so every CSV the project writes
// passes its free-text cells through Escape, which prefixes such a cell
// with a single quote; a reader of those files passes cells through
// Unescape to get the text back.
package csvcell

// Escape returns s prefixed with a single quote when a spreadsheet would
// take it for a formula, or when it starts with a quote itself (so that
// Unescape gives every text back); plain numbers such as -12.5 or +3e2,
// which no spreadsheet runs, are returned unchanged so that amounts stay
// numbers.
func Escape(s string) string {
	if s == "" || !(s[0] == '\'' || trigger(s[0]) && !isNumber(s)) {
		return s
	}
	return "'" + s
}

// Unescape undoes Escape: the quote Escape added (before a formula
// trigger or another quote) is dropped; any other cell is returned
// unchanged.
func Unescape(s string) string {
	if len(s) >= 2 && s[0] == '\'' && (s[1] == '\'' || trigger(s[1]) && !isNumber(s[1:])) {
		return s[1:]
	}
	return s
}

// trigger reports whether a cell starting with c is read as a formula.
func trigger(c byte) bool {
	switch c {
	case '=', '+', '-', '@', '\t', '\r':
		return true
	}
	return false
}

// isNumber reports whether s is a decimal number: an optional sign,
// digits with at most one '.', and an optional exponent.
func isNumber(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits, dot := 0, false
	for ; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot:
			dot = true
		default:
			goto exp
		}
	}
exp:
	if digits == 0 {
		return false
	}
	if i == len(s) {
		return true
	}
	if s[i] != 'e' && s[i] != 'E' {
		return false
	}
	i++
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	n := 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		n++
	}
	return n > 0 && i == len(s)
}
