package ident

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

// Samples are shared by the tests here and by the cross-package tests, so
// every entry point is asked about the same values.
var (
	goodRefs = []string{"default", "acme", "a", "prod_2", "eu-west", strings.Repeat("r", 64)}
	badRefs  = []string{"", "Acme", "ACME", "a.b", "a b", "a/b", "é", "a\n", strings.Repeat("r", 65)}
	goodIDs  = []string{"p", "root-folder", "Ab.9_-", "adobe:urn-aaid-sc-US-a1b2", "b20261202T120000-deadbeef", strings.Repeat("i", 128)}
	badIDs   = []string{"", "a/b", "a b", "a;b", "é", "a\x00", strings.Repeat("i", 129)}
	goodPath = []string{"a.mov", "x/y/a.mov", "...", "..a", ".a", "a..", "a b/ü ñ.mov", "a\u00a0b", "a\u200bb"}
	badPath  = []string{"", "/a", "a/", "a//b", ".", "..", "./a", "a/./b", "x/../a", "a/..",
		"a\nb", "a\rb", "a\tb", "a\x00b", "a\x1bb", "a\x7fb", "a\u0085b", "a\u009fb"}
)

func TestFunctionsAgreeWithPatterns(t *testing.T) {
	for _, c := range []struct {
		name      string
		pattern   string
		fn        func(string) error
		good, bad []string
	}{
		{"TokenRef", TokenRefPattern, TokenRef, goodRefs, badRefs},
		{"ID", IDPattern, func(v string) error { return ID("parent_id", v) }, goodIDs, badIDs},
		{"Path", PathPattern, Path, goodPath, badPath},
	} {
		re := regexp.MustCompile(c.pattern)
		for _, v := range c.good {
			if err := c.fn(v); err != nil {
				t.Errorf("%s(%q) = %v, want ok", c.name, v, err)
			}
			if !re.MatchString(v) {
				t.Errorf("%s pattern refuses %q, want match", c.name, v)
			}
		}
		for _, v := range c.bad {
			if err := c.fn(v); err == nil {
				t.Errorf("%s(%q) = nil, want an error", c.name, v)
			}
			if re.MatchString(v) {
				t.Errorf("%s pattern matches %q, want refusal", c.name, v)
			}
		}
	}
}

// Every string of up to 4 characters over an alphabet that touches every
// rule gets the same verdict from the function and from its pattern.
func TestFunctionsAgreeWithPatternsExhaustively(t *testing.T) {
	alphabet := []string{"a", "A", ".", "/", "_", "-", "\n", "\x7f", "\u0085", "é", " "}
	fns := map[string]func(string) error{
		TokenRefPattern: TokenRef,
		IDPattern:       func(v string) error { return ID("batch", v) },
		PathPattern:     Path,
	}
	var all []string
	var grow func(prefix string, n int)
	grow = func(prefix string, n int) {
		all = append(all, prefix)
		if n == 0 {
			return
		}
		for _, c := range alphabet {
			grow(prefix+c, n-1)
		}
	}
	grow("", 4)
	for pat, fn := range fns {
		re := regexp.MustCompile(pat)
		for _, v := range all {
			if got, want := fn(v) == nil, re.MatchString(v); got != want {
				t.Errorf("%q against %q: function ok=%v, pattern ok=%v", v, pat, got, want)
			}
		}
	}
}

func TestErrorsNameTheField(t *testing.T) {
	for _, c := range []struct {
		err         error
		field, text string
	}{
		{TokenRef("Acme"), "token_ref", `token_ref: invalid character 'A'; want a-z 0-9 - _`},
		{TokenRef(strings.Repeat("r", 65)), "token_ref", "token_ref: longer than 64 characters"},
		{ID("batch", ""), "batch", "batch: missing"},
		{ID("parent_id", "a/b"), "parent_id", `parent_id: invalid character '/'; want A-Z a-z 0-9 - _ . :`},
		{Path("a\nb"), "path", "path: contains control character U+000A"},
		{Path("x/../a"), "path", `path: has a ".." element`},
		{Path("a\xffb"), "path", "path: not valid UTF-8"},
	} {
		var e *Error
		if !errors.As(c.err, &e) || e.Field != c.field || c.err.Error() != c.text {
			t.Errorf("got %v, want %q (field %s)", c.err, c.text, c.field)
		}
	}
}
