package manifest

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// LineError is one problem on one manifest line.
type LineError struct {
	Line int // 1-based; for CSV the first physical line of the record
	// Field is the key / column the problem is in (file, url, parent_id,
	// path, size, filetype, token_ref), or "" if it concerns the whole line.
	Field string
	Msg   string
}

// Error formats e as "line 7: field parent_id: missing".
func (e LineError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return fmt.Sprintf("line %d: field %s: %s", e.Line, e.Field, e.Msg)
}

// FieldError is a ParseChecked or ParseObjects check's error about one
// field of an entry: it is reported under that field, like the parser's own.
type FieldError struct {
	Field string
	Msg   string
}

// Error formats e as "field file: no such file".
func (e *FieldError) Error() string { return "field " + e.Field + ": " + e.Msg }

// Errors is every problem of a manifest, in line order. A line may have
// several.
type Errors []LineError

// maxErrorLines caps Error's text; the slice itself keeps every error.
const maxErrorLines = 50

// Error lists the errors one per line, at most 50 of them followed by
// "and N more".
func (e Errors) Error() string {
	var b strings.Builder
	for i, le := range e {
		if i == maxErrorLines {
			fmt.Fprintf(&b, "\nand %d more", len(e)-i)
			break
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(le.Error())
	}
	return b.String()
}

// As lets errors.As fill an Errors target from the *Errors that Parse
// returns, so callers may use either type.
func (e Errors) As(target any) bool {
	if t, ok := target.(*Errors); ok {
		*t = e
		return true
	}
	return false
}

// maxQuoted bounds user text echoed in messages.
const maxQuoted = 64

// quote quotes s for a message, cut to maxQuoted bytes so that a huge bad
// value does not make a huge error.
func quote(s string) string {
	if len(s) <= maxQuoted {
		return fmt.Sprintf("%q", s)
	}
	cut := maxQuoted
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%q...", s[:cut])
}
