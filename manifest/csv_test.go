package manifest

import (
	"errors"
	"strings"
	"testing"
)

func TestCSVValid(t *testing.T) {
	in := "\uFEFF\"Parent_ID\", File ,url,path,size,filetype,token_ref\r\n" +
		"f-123,day1/A001.mov,,,,,\r\n" +
		"\r\n" +
		"p,,https://cdn.example.com/B002.mxf?a=1&b=2,\"Day 1, morning/B002.mxf\",1048576,application/mxf,client-b\r\n" +
		",,,,,,\r\n" + // an empty spreadsheet row
		"p,\"multi\nline.mov\",,x.mov,0,,\n" + // a quoted newline: the record spans lines 6-7
		"p,\"say \"\"hi\"\".mov\",,,,,\n" +
		"p,last.mov,,,,," // no final newline
	got := mustParse(t, in, CSV)
	entriesEqual(t, got, []Entry{
		{Line: 2, File: "day1/A001.mov", ParentID: "f-123", Path: "A001.mov", TokenRef: "default"},
		{Line: 4, URL: "https://cdn.example.com/B002.mxf?a=1&b=2", ParentID: "p", Path: "Day 1, morning/B002.mxf", Size: 1048576, Filetype: "application/mxf", TokenRef: "client-b"},
		{Line: 6, File: "multi\nline.mov", ParentID: "p", Path: "x.mov", TokenRef: "default"},
		{Line: 8, File: `say "hi".mov`, ParentID: "p", Path: `say "hi".mov`, TokenRef: "default"},
		{Line: 9, File: "last.mov", ParentID: "p", Path: "last.mov", TokenRef: "default"},
	})
}

func TestCSVMinimalColumns(t *testing.T) {
	got := mustParse(t, "url,parent_id\nhttps://h/a.mov,p\n", CSV)
	entriesEqual(t, got, []Entry{{Line: 2, URL: "https://h/a.mov", ParentID: "p", Path: "a.mov", TokenRef: "default"}})
}

func TestCSVHeaderErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header string
		wants  []want
	}{
		{"unknown column", "fiel,parent_id", []want{{1, "", `unknown column "fiel"`}, {1, "", "missing column file or url"}}},
		{"duplicate column", "file,parent_id,PARENT_ID", []want{{1, "parent_id", "duplicate column"}}},
		{"no parent_id", "file,path", []want{{1, "parent_id", "missing column"}}},
		{"no file or url", "parent_id,path", []want{{1, "", "missing column file or url"}}},
		{"unnamed column", "file,parent_id,", []want{{1, "", "column 3 has no name"}}},
		{"bad quote", `file,"parent_id`, []want{{1, "", "CSV:"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Rows under a bad header are not checked: no row errors.
			entries, err := Parse(strings.NewReader(tc.header+"\nx,y,z,w\n"), CSV)
			checkErrs(t, entries, err, tc.wants)
		})
	}
}

func TestCSVRowErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		row   string
		wants []want // on line 2
	}{
		{"too few fields", "a.mov", []want{{2, "", "has 1 fields, header has 3"}}},
		{"too many fields", "a.mov,p,,", []want{{2, "", "has 4 fields, header has 3"}}},
		{"bare quote", `a"b.mov,p,`, []want{{2, "", `bare " in non-quoted-field at line 2, column 2`}}},
		{"text after closing quote", `"a"b.mov,p,`, []want{{2, "", `extraneous or missing " in quoted-field`}}},
		{"bad UTF-8", "a\xff.mov,p,", []want{{2, "file", "not valid UTF-8"}}},
		{"size not a number", "a.mov,p,12kb", []want{{2, "size", `"12kb" is not an integer`}}},
		{"size negative", "a.mov,p,-5", []want{{2, "size", "negative"}}},
		{"size with spaces", "a.mov,p, 5", []want{{2, "size", "not an integer"}}},
		{"parent_id missing", "a.mov,,", []want{{2, "parent_id", "missing"}}},
		{"file is whitespace-free", "a.mov, p,", []want{{2, "parent_id", "invalid character ' '"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := "file,parent_id,size\n" + tc.row + "\nok.mov,p,1\n"
			entries, err := Parse(strings.NewReader(in), CSV)
			checkErrs(t, entries, err, tc.wants)
		})
	}
}

func TestCSVReportsEveryBadLine(t *testing.T) {
	in := "file,parent_id,path\r\n" +
		"a.mov,p,\r\n" +
		"b.mov,,\r\n" +
		"\"c\nd.mov\",p,/abs\r\n" + // lines 4-5
		"e\"f,p,\r\n" +
		"g.mov,p,ok/g.mov\r\n" +
		"h.mov,p,a/../b\r\n"
	entries, err := Parse(strings.NewReader(in), CSV)
	checkErrs(t, entries, err, []want{
		{3, "parent_id", "missing"},
		{4, "path", "relative"},
		{6, "", "bare"},
		{8, "path", `".."`},
	})
}

func TestCSVUnterminatedQuote(t *testing.T) {
	in := "file,parent_id\na.mov,p\n\"b.mov,p\nc.mov,p\n"
	entries, err := Parse(strings.NewReader(in), CSV)
	checkErrs(t, entries, err, []want{{3, "", `extraneous or missing "`}})
}

func TestCSVRecordLimit(t *testing.T) {
	l := limits{maxLine: 64, maxEntries: 10}
	long := strings.Repeat("x", 70)
	in := "file,parent_id\n" +
		"a.mov,p\n" +
		long + ",p\n" + // line 3: one long line
		"\"b\n" + long + "\n.mov\",p\n" + // lines 4-6: a record with a long line inside quotes
		"\"c\n" + strings.Repeat("y\n", 40) + "\",p\n" + // lines 7-48: short lines, long record
		"d.mov,\n" + // line 49: checked after all that
		"e.mov,p\n"
	entries, err := l.parse(strings.NewReader(in), CSV, nil)
	checkErrs(t, entries, err, []want{
		{3, "", "record longer than 64 bytes"},
		{4, "", "record longer than 64 bytes over 3 lines"},
		{7, "", "over 42 lines"},
		{49, "parent_id", "missing"},
	})

	// Exactly at the limit is fine, CRLF not counted.
	row := strings.Repeat("z", 62) + ",p"
	got, err := l.parse(strings.NewReader("file,parent_id\r\n"+row+"\r\n"), CSV, nil)
	if err != nil || len(got) != 1 || got[0].Line != 2 {
		t.Fatalf("64-byte record: %v, %v", got, err)
	}
}

func TestCSVRealLimitUnterminatedQuote(t *testing.T) {
	in := "file,parent_id\n\"a.mov,p\n" + strings.Repeat("b.mov,p\n", 10000)
	entries, err := Parse(strings.NewReader(in), CSV)
	checkErrs(t, entries, err, []want{{2, "", "record longer than 65536 bytes over 10001 lines (unterminated quoted field?)"}})
}

func TestCSVHeaderTooLong(t *testing.T) {
	l := limits{maxLine: 32, maxEntries: 10}
	entries, err := l.parse(strings.NewReader("\n"+strings.Repeat("file,", 10)+"parent_id\na,p\n"), CSV, nil)
	checkErrs(t, entries, err, []want{{2, "", "header row longer than 32 bytes"}})
}

func TestCSVEmpty(t *testing.T) {
	for in, w := range map[string]want{
		"":                         {1, "", "missing header row"},
		"\n\r\n":                   {1, "", "missing header row"},
		"\uFEFF":                   {1, "", "missing header row"},
		"file,parent_id\n":         {1, "", "no entries"},
		"file,parent_id\n,\n,\n\n": {1, "", "no entries"},
	} {
		entries, err := Parse(strings.NewReader(in), CSV)
		checkErrs(t, entries, err, []want{w})
	}
}

func TestCSVEntryLimit(t *testing.T) {
	l := limits{maxLine: MaxLineBytes, maxEntries: 2}
	entries, err := l.parse(strings.NewReader("file,parent_id\na,p\n\nb,p\nc,p\nd,p\n"), CSV, nil)
	checkErrs(t, entries, err, []want{{5, "", "more than 2 entries"}})
}

func TestCSVReadError(t *testing.T) {
	boom := errors.New("disk on fire")
	_, err := Parse(&errReader{data: "file,parent_id\na,p\n", err: boom}, CSV)
	var errs *Errors
	if !errors.Is(err, boom) || errors.As(err, &errs) {
		t.Fatalf("err = %v, want the read error, not *Errors", err)
	}
}
