package manifest

import (
	"errors"
	"strings"
	"testing"
)

// want is one expected LineError: exact line and field, msg a substring.
type want struct {
	line  int
	field string
	msg   string
}

// checkErrs asserts that err is exactly the wanted *Errors.
func checkErrs(t *testing.T, entries []Entry, err error, wants []want) {
	t.Helper()
	if entries != nil {
		t.Errorf("entries = %v, want nil with errors", entries)
	}
	var errs *Errors
	if !errors.As(err, &errs) {
		t.Fatalf("err = %v (%T), want *Errors", err, err)
	}
	got := *errs
	if len(got) != len(wants) {
		t.Fatalf("got %d errors, want %d:\n%v", len(got), len(wants), err)
	}
	for i, w := range wants {
		g := got[i]
		if g.Line != w.line || g.Field != w.field || !strings.Contains(g.Msg, w.msg) {
			t.Errorf("error %d = {line %d, field %q, msg %q}, want {line %d, field %q, msg containing %q}",
				i, g.Line, g.Field, g.Msg, w.line, w.field, w.msg)
		}
	}
}

func mustParse(t *testing.T, in string, f Format) []Entry {
	t.Helper()
	entries, err := Parse(strings.NewReader(in), f)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return entries
}

func entriesEqual(t *testing.T, got, want []Entry) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d entries, want %d:\n got %+v\nwant %+v", len(got), len(want), got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

// errReader fails after its data, as a broken disk or pipe would.
type errReader struct {
	data string
	err  error
}

func (r *errReader) Read(b []byte) (int, error) {
	if r.data == "" {
		return 0, r.err
	}
	n := copy(b, r.data)
	r.data = r.data[n:]
	return n, nil
}
