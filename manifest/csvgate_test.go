package manifest

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

// csvTrace reads every record and error with their lines, and lists the
// lines where records start.
func csvTrace(r io.Reader) (trace []string, starts []int) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return trace, starts
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			trace = append(trace, fmt.Sprintf("error %d %d %d %v", pe.StartLine, pe.Line, pe.Column, pe.Err))
			starts = append(starts, pe.StartLine)
			continue
		}
		if err != nil {
			return append(trace, "io error "+err.Error()), starts
		}
		start, _ := cr.FieldPos(0)
		line, col := cr.FieldPos(len(rec) - 1)
		trace = append(trace, fmt.Sprintf("record %q ends at %d:%d", rec, line, col))
		starts = append(starts, start)
	}
}

// gateStarts lists the lines where the gate sees non-blank records start.
func gateStarts(in string, p *parser) []int {
	g := newCSVGate(strings.NewReader(in), p)
	var starts []int
	for {
		start := g.lr.n + 1
		if err := g.fill(); err != nil {
			panic(err)
		}
		if g.done {
			return starts
		}
		if len(trimEOL(g.out)) > 0 {
			starts = append(starts, start)
		}
	}
}

// checkGateTransparent asserts that, with no record over the limit, the gate
// changes nothing encoding/csv sees, and splits records where it does.
func checkGateTransparent(t *testing.T, in string) {
	t.Helper()
	p := &parser{limits: limits{maxLine: len(in) + 16}}
	got, _ := csvTrace(newCSVGate(strings.NewReader(in), p))
	want, wantStarts := csvTrace(strings.NewReader(strings.TrimPrefix(in, bom)))
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("input %q\nthrough gate:\n%s\ndirect:\n%s", in, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if gotStarts := gateStarts(in, p); fmt.Sprint(gotStarts) != fmt.Sprint(wantStarts) {
		t.Fatalf("input %q: gate records start at lines %v, encoding/csv's at %v", in, gotStarts, wantStarts)
	}
	if len(p.errs) != 0 {
		t.Fatalf("gate reported %v", p.errs)
	}
}

var gateSeeds = []string{
	"a,b\n1,2\n",
	"a,\"b\nc\",d\r\ne,f",
	"\"a\"\"b\",c\n\"\"\n",
	"a\"b,c\nd,e\n",
	"\"a\"b,c\nd,e\n",
	"\"a\" ,c\nd\n",
	"\"unterminated\nx\ny",
	"\"a\"\r\nb\r\n",
	"\r\n\n,\n\"\r\n\"\n",
	"x,\"\"\"\n\",\"\n",
	"\uFEFF\"file\",\"parent_id\"\n",
}

func TestCSVGateTransparent(t *testing.T) {
	for _, in := range gateSeeds {
		checkGateTransparent(t, in)
	}
}

func FuzzCSVGate(f *testing.F) {
	for _, s := range gateSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		checkGateTransparent(t, in)
	})
}
