// Package ident is the one statement of what frameq accepts as an id (batch,
// Frame.io parent_id), a token reference and an asset path. Producers
// (enqueue, the manifest reader, non-Go producers following
// docs/payload.schema.json), the worker's config and the dashboard all call
// it, so a value one of them accepts is one every other serves.
//
// The functions give messages a person can act on; the Pattern constants are
// the same rules as regular expressions, published in the JSON schema and
// held to the functions by tests. The patterns use only syntax that RE2 (Go)
// and ECMA-262 (JSON Schema) read alike.
//
// It imports nothing of frameq's, so any package may use it.
package ident

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits of the id-like values.
const (
	// MaxID is the longest id (batch, parent_id), in bytes.
	MaxID = 128
	// MaxTokenRef is the longest token reference, in bytes.
	MaxTokenRef = 64
)

// IDPattern is the id rule: 1 to 128 of A-Z a-z 0-9 . _ - :. Frame.io ids
// are UUIDs, and V4 ids of Adobe-storage resources look like "adobe:…"; the
// wider set leaves room for batch names and simulators.
const IDPattern = `^[A-Za-z0-9._:-]{1,128}$`

// TokenRefPattern is the token-reference rule: 1 to 64 of a-z 0-9 _ -. A
// worker learns ref r from FRAMEQ_TOKEN_<R> lower-cased, or from a
// FRAMEQ_TOKENS_FILE line "r=token"; an upper-case letter or a dot could
// never be configured that way, so a payload naming one could never be
// served.
const TokenRefPattern = `^[a-z0-9_-]{1,64}$`

// controls are the characters unicode.IsControl reports: C0, DEL and C1.
// They appear literally in the pattern, so RE2 and ECMA-262 read them the
// same; the JSON schema spells them \u0000 etc.
const controls = "\x00-\x1f\x7f-\u009f"

// pathElem is one element: no '/', no control character, not "." or "..".
const pathElem = `(?:[^./` + controls + `][^/` + controls + `]*|\.[^./` + controls + `][^/` + controls + `]*|\.\.[^/` + controls + `]+)`

// PathPattern is the asset-path rule: slash-separated elements, none of
// them empty, "." or "..", not starting with '/', no control characters
// (no asset name needs one, and a newline in a name forges log lines).
// Go strings must also be valid UTF-8, which JSON strings always are.
const PathPattern = `^` + pathElem + `(?:/` + pathElem + `)*$`

// Field names used in errors of the functions that know their field.
const (
	FieldTokenRef = "token_ref"
	FieldPath     = "path"
)

// Error is a value that breaks a rule. Its text names the field; Reason
// alone suits callers that report the field separately.
type Error struct {
	Field  string // e.g. "token_ref", "parent_id"
	Reason string // e.g. "invalid character 'A'; want a-z 0-9 - _"
}

// Error returns "field: reason".
func (e *Error) Error() string { return e.Field + ": " + e.Reason }

// ID checks an id (batch, parent_id) against IDPattern; field names it in
// the error.
func ID(field, v string) error {
	return check(field, v, MaxID, "A-Z a-z 0-9 - _ . :", func(r rune) bool {
		return r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' ||
			r == '-' || r == '_' || r == '.' || r == ':'
	})
}

// TokenRef checks a token reference against TokenRefPattern.
func TokenRef(v string) error {
	return check(FieldTokenRef, v, MaxTokenRef, "a-z 0-9 - _", func(r rune) bool {
		return r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_'
	})
}

// TokenVar is the environment variable a worker reads ref's token from:
// FRAMEQ_TOKEN for "default", else FRAMEQ_TOKEN_<REF> (config lower-cases
// the suffix back, which is why a ref has no upper case).
func TokenVar(ref string) string {
	if ref == "default" {
		return "FRAMEQ_TOKEN"
	}
	return "FRAMEQ_TOKEN_" + strings.ToUpper(ref)
}

func check(field, v string, max int, allowed string, ok func(rune) bool) error {
	if v == "" {
		return &Error{field, "missing"}
	}
	if len(v) > max {
		return &Error{field, fmt.Sprintf("longer than %d characters", max)}
	}
	for _, r := range v {
		if !ok(r) {
			return &Error{field, fmt.Sprintf("invalid character %q; want %s", r, allowed)}
		}
	}
	return nil
}

// Path checks an asset path against PathPattern (and that it is UTF-8).
func Path(p string) error {
	if msg := pathReason(p); msg != "" {
		return &Error{FieldPath, msg}
	}
	return nil
}

func pathReason(p string) string {
	if p == "" {
		return "missing"
	}
	if !utf8.ValidString(p) {
		return "not valid UTF-8"
	}
	for _, r := range p {
		if r == 0 {
			return "contains a NUL byte"
		}
		if unicode.IsControl(r) {
			return fmt.Sprintf("contains control character %U", r)
		}
	}
	if strings.HasPrefix(p, "/") {
		return "must be relative (starts with /)"
	}
	for elem := range strings.SplitSeq(p, "/") {
		switch elem {
		case "":
			return "has an empty element (// or a trailing /)"
		case ".", "..":
			return fmt.Sprintf("has a %q element", elem)
		}
	}
	return ""
}
