// Package manifest parses the bulk-upload manifests that `enqueue manifest
// <file>` accepts: one upload per line, either a local file or a remote URL
// that Frame.io fetches itself, each with the Frame.io folder it goes into.
//
//	f, err := manifest.FormatOf(name) // .jsonl/.ndjson/.json or .csv
//	if err != nil {
//		return err
//	}
//	entries, err := manifest.Parse(file, f)
//	var bad *manifest.Errors
//	if errors.As(err, &bad) {
//		for _, e := range *bad {
//			fmt.Println(e) // line 7: field parent_id: missing
//		}
//	}
//
// JSONL has one object per line with the keys file, url, parent_id, path,
// size, filetype and token_ref; blank lines and lines starting with # are
// skipped:
//
//	{"file": "day1/A001.mov", "parent_id": "f-123", "path": "Day 1/A001.mov"}
//	{"url": "https://cdn.example.com/B002.mxf", "parent_id": "f-123", "size": 1048576}
//
// CSV (RFC 4180) starts with a header row naming the same columns in any
// order; empty cells are absent values:
//
//	file,url,parent_id,path
//	day1/A001.mov,,f-123,"Day 1, morning/A001.mov"
//
// Parse is all or nothing: it checks every line and, if any is bad, returns
// no entries and an *Errors listing every bad line, so an invalid manifest
// enqueues nothing. Error texts never echo URLs, which may carry presigned
// query strings.
package manifest
