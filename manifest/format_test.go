package manifest

import (
	"strings"
	"testing"
)

func TestFormatOf(t *testing.T) {
	for _, tc := range []struct {
		name string
		want Format
	}{
		{"m.jsonl", JSONL},
		{"dir.v2/m.ndjson", JSONL},
		{"m.json", JSONL},
		{"M.JSONL", JSONL},
		{"/abs/m.csv", CSV},
		{"m.CSV", CSV},
	} {
		got, err := FormatOf(tc.name)
		if err != nil || got != tc.want {
			t.Errorf("FormatOf(%q) = %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	for name, msg := range map[string]string{
		"m.txt":      `unknown extension ".txt"`,
		"m.csv.gz":   `unknown extension ".gz"`,
		"manifest":   "no file extension",
		"dir.csv/m":  "no file extension",
		"m.jsonl.db": `unknown extension ".db"`,
	} {
		_, err := FormatOf(name)
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("FormatOf(%q) error = %v, want containing %q", name, err, msg)
		}
	}
}

func TestParseUnknownFormat(t *testing.T) {
	_, err := Parse(strings.NewReader("x"), Format("xml"))
	if err == nil || !strings.Contains(err.Error(), `unknown format "xml"`) {
		t.Fatalf("err = %v", err)
	}
}
