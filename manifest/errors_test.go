package manifest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestLineErrorText(t *testing.T) {
	if got := (LineError{Line: 7, Field: "parent_id", Msg: "missing"}).Error(); got != "line 7: field parent_id: missing" {
		t.Errorf("got %q", got)
	}
	if got := (LineError{Line: 3, Msg: "not a JSON object"}).Error(); got != "line 3: not a JSON object" {
		t.Errorf("got %q", got)
	}
}

func TestErrorsTextIsCapped(t *testing.T) {
	var errs Errors
	for i := 1; i <= 53; i++ {
		errs = append(errs, LineError{Line: i, Msg: "bad"})
	}
	lines := strings.Split(errs.Error(), "\n")
	if len(lines) != 51 || lines[0] != "line 1: bad" || lines[49] != "line 50: bad" || lines[50] != "and 3 more" {
		t.Errorf("got %d lines, first %q, last %q", len(lines), lines[0], lines[len(lines)-1])
	}
	short := errs[:50].Error()
	if strings.Contains(short, "more") || strings.Count(short, "\n") != 49 {
		t.Errorf("50 errors should print in full:\n%s", short)
	}
}

func TestErrorsAsBothTypes(t *testing.T) {
	_, err := Parse(strings.NewReader(`{"file":"a"}`), JSONL)
	err = fmt.Errorf("enqueue: %w", err)
	var ptr *Errors
	if !errors.As(err, &ptr) || len(*ptr) != 1 {
		t.Fatalf("errors.As(*Errors) failed: %v", err)
	}
	var val Errors
	if !errors.As(err, &val) || len(val) != 1 || val[0].Field != "parent_id" {
		t.Fatalf("errors.As(Errors) = %v", val)
	}
}

func TestQuoteCutsLongValues(t *testing.T) {
	long := strings.Repeat("é", 100) // 200 bytes; the cut must not split a rune
	q := quote(long)
	if len(q) > maxQuoted+10 || !strings.HasSuffix(q, `"...`) || strings.Contains(q, `\x`) {
		t.Errorf("quote = %s", q)
	}
	if quote("a") != `"a"` {
		t.Errorf("quote(a) = %s", quote("a"))
	}
}
