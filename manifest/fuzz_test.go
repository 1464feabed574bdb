package manifest

import (
	"errors"
	"strings"
	"testing"
)

// checkParseResult asserts Parse's promises for any input: either valid
// entries or *Errors naming real lines, never both, never a panic.
func checkParseResult(t *testing.T, in string, entries []Entry, err error) {
	t.Helper()
	lastLine := strings.Count(in, "\n") + 1
	if err != nil {
		var errs *Errors
		if !errors.As(err, &errs) {
			t.Fatalf("err %v (%T) is not *Errors", err, err)
		}
		if entries != nil || len(*errs) == 0 {
			t.Fatalf("entries %v with errors %v", entries, err)
		}
		prev := 1
		for _, e := range *errs {
			if e.Line < prev || e.Line > lastLine {
				t.Fatalf("error %v: line out of order or outside 1..%d", e, lastLine)
			}
			if _, known := fieldByName(e.Field); e.Field != "" && !known {
				t.Fatalf("error %v names an unknown field", e)
			}
			prev = e.Line
		}
		return
	}
	if len(entries) == 0 {
		t.Fatal("no entries and no error")
	}
	prev := 0
	for _, e := range entries {
		if e.Line <= prev || e.Line > lastLine {
			t.Fatalf("entry %+v: line out of order or outside 1..%d", e, lastLine)
		}
		prev = e.Line
		if (e.File == "") == (e.URL == "") || checkParentID(e.ParentID) != "" ||
			checkPath(e.Path) != "" || checkTokenRef(e.TokenRef) != "" || e.Size < 0 {
			t.Fatalf("invalid entry returned: %+v", e)
		}
	}
}

func fuzzParse(f *testing.F, format Format, seeds []string) {
	for _, s := range seeds {
		f.Add(s)
	}
	small := limits{maxLine: 48, maxEntries: 3}
	f.Fuzz(func(t *testing.T, in string) {
		entries, err := Parse(strings.NewReader(in), format)
		checkParseResult(t, in, entries, err)
		// Small limits reach the too-long and too-many paths.
		entries, err = small.parse(strings.NewReader(in), format, nil)
		checkParseResult(t, in, entries, err)
	})
}

func FuzzParseJSONL(f *testing.F) {
	fuzzParse(f, JSONL, []string{
		`{"file":"a.mov","parent_id":"p"}`,
		"\uFEFF# c\r\n{\"url\":\"https://h/a%20b.mov?s=1\",\"parent_id\":\"p\",\"size\":5,\"filetype\":\"video/mp4\",\"token_ref\":\"t\"}\r\n\r\n",
		`{"file":"a","path":"x/../y","parent_id":"p","size":-1}` + "\n[1]\n{\"fiel\":1,\"file\":\"\\u0000\"}\n",
		"{\"file\":\"a\",\"parent_id\":\"p\"} {}\n\"x\"\n{\"file\":\"a\xff\"}\n",
		"{\"parent_id\":\"p\",\"parent_id\":null,\"url\":\"ftp://x\"}\n{\n" + strings.Repeat("{\"file\":\"f\",\"parent_id\":\"p\"}\n", 5),
	})
}

func FuzzParseCSV(f *testing.F) {
	fuzzParse(f, CSV, []string{
		"file,parent_id\na.mov,p\n",
		"\uFEFF\"url\",parent_id,path,size,filetype,token_ref\r\nhttps://h/a.mov?x=1,p,\"a, b/c.mov\",5,video/mp4,t\r\n",
		"file,parent_id,path\n\"a\nb\",p,/abs\nc\"d,p,\n\"e\"f,p,\n,,\nx,,\n",
		"fiel,parent_id,parent_id,\nx\n",
		"file,parent_id\n\"unterminated\n" + strings.Repeat("a,p\n", 5),
		"file,parent_id,size\na,p,-1\na,p,1.5\na\xff,p,3\n",
	})
}
