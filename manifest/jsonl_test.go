package manifest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestJSONLValid(t *testing.T) {
	in := "\uFEFF# bulk upload, day 1\r\n" +
		`{"file": "day1/A001.mov", "parent_id": "f-123"}` + "\r\n" +
		"\r\n" +
		`   {"url": "https://cdn.example.com/B002.mxf?sig=x", "parent_id": "F_9.z", "size": 1048576, "filetype": "application/mxf", "token_ref": "client-b_2"}` + "\n" +
		"  # indented comment\n" +
		`{"file": "/abs/C.wav", "parent_id": "p", "path": "Day 1/audio/\u00e9t\u00e9.wav", "size": 0, "filetype": null, "token_ref": null, "url": null}` + "\n" +
		`{"file":"x\"y.mov","parent_id":"p","path":"esc\/aped"}` + "\n" +
		`{"file": "last.mov", "parent_id": "p"}` // no final newline
	got := mustParse(t, in, JSONL)
	entriesEqual(t, got, []Entry{
		{Line: 2, File: "day1/A001.mov", ParentID: "f-123", Path: "A001.mov", TokenRef: "default"},
		{Line: 4, URL: "https://cdn.example.com/B002.mxf?sig=x", ParentID: "F_9.z", Path: "B002.mxf", Size: 1048576, Filetype: "application/mxf", TokenRef: "client-b_2"},
		{Line: 6, File: "/abs/C.wav", ParentID: "p", Path: "Day 1/audio/été.wav", TokenRef: "default"},
		{Line: 7, File: `x"y.mov`, ParentID: "p", Path: "esc/aped", TokenRef: "default"},
		{Line: 8, File: "last.mov", ParentID: "p", Path: "last.mov", TokenRef: "default"},
	})
}

func TestJSONLInvalid(t *testing.T) {
	for _, tc := range []struct {
		name  string
		line  string
		wants []want // on line 2
	}{
		{"truncated", `{"file": "a.mov",`, []want{{2, "", "invalid JSON"}}},
		{"syntax", `{"file" "a.mov"}`, []want{{2, "", "invalid JSON at byte 9: invalid character '\"' after object key"}}},
		{"trailing comma", `{"file":"a.mov","parent_id":"p",}`, []want{{2, "", "invalid JSON"}}},
		{"array", `["a.mov"]`, []want{{2, "", "not a JSON object"}}},
		{"string", `"a.mov"`, []want{{2, "", "not a JSON object"}}},
		{"number", `42`, []want{{2, "", "not a JSON object"}}},
		{"trailing object", `{"file":"a.mov","parent_id":"p"} {}`, []want{{2, "", "after top-level value"}}},
		{"trailing garbage", `{"file":"a.mov","parent_id":"p"}x`, []want{{2, "", "at byte 33: invalid character 'x' after top-level value"}}},
		{"unknown key", `{"fiel":"a.mov","parent_id":"p"}`, []want{{2, "", `unknown key "fiel"`}, {2, "", "missing file or url"}}},
		{"key case matters", `{"File":"a.mov","file":"b.mov","parent_id":"p"}`, []want{{2, "", `unknown key "File"`}}},
		{"duplicate key", `{"file":"a.mov","parent_id":"p","parent_id":"q"}`, []want{{2, "parent_id", "duplicate key"}}},
		{"file number", `{"file":7,"parent_id":"p"}`, []want{{2, "file", "want a string, got number"}}},
		{"url object", `{"url":{},"parent_id":"p"}`, []want{{2, "url", "want a string, got object"}}},
		{"parent_id bool", `{"file":"a","parent_id":true}`, []want{{2, "parent_id", "want a string, got boolean"}}},
		{"path array", `{"file":"a","parent_id":"p","path":["x"]}`, []want{{2, "path", "want a string, got array"}}},
		{"size string", `{"file":"a","parent_id":"p","size":"12"}`, []want{{2, "size", "want a number, got string"}}},
		{"size bool", `{"file":"a","parent_id":"p","size":false}`, []want{{2, "size", "want a number, got boolean"}}},
		{"parent_id null", `{"file":"a","parent_id":null}`, []want{{2, "parent_id", "missing"}}},
		{"empty strings are absent", `{"file":"","url":"","parent_id":"p"}`, []want{{2, "", "missing file or url"}}},
		{"bad UTF-8", "{\"file\":\"a\xff.mov\",\"parent_id\":\"p\"}", []want{{2, "", "not valid UTF-8"}}},
		{"escaped NUL", `{"file":"a.mov","parent_id":"p","path":"a\u0000b"}`, []want{{2, "path", "NUL"}}},
		{"long unknown key is cut", `{"` + strings.Repeat("k", 1000) + `":1,"file":"a","parent_id":"p"}`, []want{{2, "", `"...`}}},
		{"too long", `{"file":"` + strings.Repeat("a", MaxLineBytes) + `","parent_id":"p"}`, []want{{2, "", "longer than 65536 bytes"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := `{"file":"ok.mov","parent_id":"p"}` + "\n" + tc.line + "\n" + `{"file":"ok2.mov","parent_id":"p"}` + "\n"
			entries, err := Parse(strings.NewReader(in), JSONL)
			checkErrs(t, entries, err, tc.wants)
		})
	}
}

func TestJSONLLineLimitIsExact(t *testing.T) {
	body := `{"file":"a","parent_id":"p","path":"` // 37 bytes
	pad := func(n int) string { return body + strings.Repeat("x", n-len(body)-2) + `"}` }
	l := limits{maxLine: 64, maxEntries: 10}
	if _, err := l.parse(strings.NewReader(pad(64)+"\r\n"), JSONL, nil); err != nil {
		t.Errorf("64-byte line + CRLF: %v", err)
	}
	entries, err := l.parse(strings.NewReader(pad(65)+"\n"+pad(64)+"\n"+pad(200)), JSONL, nil)
	checkErrs(t, entries, err, []want{{1, "", "longer than 64 bytes"}, {3, "", "longer than 64 bytes"}})
}

func TestJSONLReportsEveryBadLine(t *testing.T) {
	in := strings.Join([]string{
		`# header comment`,
		`{"file":"a.mov","parent_id":"p"}`,
		`{"file":"b.mov"}`,
		`not json`,
		``,
		`{"file":"c.mov","parent_id":"p"}`,
		`{"url":"ftp://x/y","parent_id":"p","size":-1}`,
	}, "\r\n")
	entries, err := Parse(strings.NewReader(in), JSONL)
	checkErrs(t, entries, err, []want{
		{3, "parent_id", "missing"},
		{4, "", "invalid JSON"},
		{7, "size", "negative"},
		{7, "url", "scheme"},
	})
	if !strings.Contains(err.Error(), "line 3: field parent_id: missing\nline 4: invalid JSON") {
		t.Errorf("text:\n%v", err)
	}
}

func TestJSONLEmpty(t *testing.T) {
	for _, in := range []string{"", "\n\n", "# only\n  # comments\r\n", "\uFEFF"} {
		entries, err := Parse(strings.NewReader(in), JSONL)
		checkErrs(t, entries, err, []want{{1, "", "no entries"}})
	}
}

func TestJSONLEntryLimit(t *testing.T) {
	line := `{"file":"a.mov","parent_id":"p"}` + "\n"
	l := limits{maxLine: MaxLineBytes, maxEntries: 3}
	got, err := l.parse(strings.NewReader("#c\n"+strings.Repeat(line, 3)), JSONL, nil)
	if err != nil || len(got) != 3 {
		t.Fatalf("3 entries at the limit: %d, %v", len(got), err)
	}
	entries, err := l.parse(strings.NewReader("#c\n"+strings.Repeat(line, 100)), JSONL, nil)
	checkErrs(t, entries, err, []want{{5, "", "more than 3 entries"}})
}

func TestJSONLReadError(t *testing.T) {
	boom := errors.New("disk on fire")
	_, err := Parse(&errReader{data: `{"file":"a","parent_id":"p"}` + "\n", err: boom}, JSONL)
	var errs *Errors
	if !errors.Is(err, boom) || errors.As(err, &errs) {
		t.Fatalf("err = %v, want the read error, not *Errors", err)
	}
}

// Lines decoded on several CPUs give what one CPU gives: the same entries
// in order, the same errors, ParseChecked's check called on the same
// entries in the same order, the entry limit at the same line; with and
// without bad lines, across many batches.
func TestJSONLOnSeveralCPUsIsTheSerialParse(t *testing.T) {
	gen := func(withBad bool) string {
		var b strings.Builder
		for i := range 7*jsonBatchLines + 13 {
			switch {
			case withBad && i%977 == 5:
				b.WriteString("not json\n")
			case withBad && i%1500 == 9:
				fmt.Fprintf(&b, "{\"file\":\"a%d.mov\"}\n", i) // parent_id missing
			case withBad && i%2100 == 11:
				b.WriteString("{\"file\":\"\xff.mov\",\"parent_id\":\"p\"}\n")
			case i%300 == 0:
				b.WriteString("# comment\n\n")
			default:
				fmt.Fprintf(&b, "{\"file\":\"a%d.mov\",\"parent_id\":\"p\",\"size\":%d}\n", i, i)
			}
		}
		return b.String()
	}
	bad, good := gen(true), gen(false)
	for name, in := range map[string]string{"bad lines": bad, "good lines": good} {
		for _, maxEntries := range []int{MaxEntries, 3*jsonBatchLines + 7} {
			run := func(workers int) (string, []Entry) {
				var checked []Entry
				l := limits{maxLine: MaxLineBytes, maxEntries: maxEntries, workers: workers}
				entries, err := l.parse(strings.NewReader(in), JSONL, func(e Entry) error {
					checked = append(checked, e)
					if e.Line%1001 == 0 {
						return errors.New("checked and refused")
					}
					return nil
				})
				return fmt.Sprintf("%d entries %v; err %v", len(entries), entries, err), checked
			}
			serial, serialChecked := run(1)
			for _, workers := range []int{2, 4} {
				got, checked := run(workers)
				if got != serial {
					t.Errorf("%s, limit %d, %d workers:\n got %.400s\nwant %.400s", name, maxEntries, workers, got, serial)
				}
				if fmt.Sprint(checked) != fmt.Sprint(serialChecked) {
					t.Errorf("%s, limit %d, %d workers: the check saw %d entries, serially %d (or in another order)", name, maxEntries, workers, len(checked), len(serialChecked))
				}
			}
			if len(serialChecked) < jsonBatchLines {
				t.Errorf("%s: only %d entries checked: the test does not cross batches", name, len(serialChecked))
			}
		}
	}
}
