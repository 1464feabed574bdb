package manifest

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Format is a manifest's syntax.
type Format string

// The manifest formats.
const (
	JSONL Format = "jsonl" // one JSON object per line
	CSV   Format = "csv"   // RFC 4180 with a header row
)

// FormatOf picks the format from a file name: .jsonl/.ndjson/.json → JSONL,
// .csv → CSV, in any letter case; any other extension is an error naming it.
func FormatOf(name string) (Format, error) {
	ext := filepath.Ext(name)
	switch strings.ToLower(ext) {
	case ".jsonl", ".ndjson", ".json":
		return JSONL, nil
	case ".csv":
		return CSV, nil
	case "":
		return "", fmt.Errorf("manifest %q: no file extension; want .jsonl, .ndjson, .json or .csv", name)
	}
	return "", fmt.Errorf("manifest %q: unknown extension %q; want .jsonl, .ndjson, .json or .csv", name, ext)
}
