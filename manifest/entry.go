package manifest

// Entry is one manifest line: a local file or a remote URL, and where it goes
// in Frame.io. Parse fills Path and TokenRef with their defaults when a line
// leaves them out, so every Entry it returns has both set.
type Entry struct {
	Line     int    // 1-based line number in the input (for CSV: the physical line of the record; header is line 1)
	File     string // local file path (absolute, or relative to the manifest's directory — resolution is the caller's job); exactly one of File / URL
	URL      string // http(s) URL Frame.io fetches itself (remote upload)
	ParentID string // target Frame.io folder asset id (required; 1-128 chars of A-Z a-z 0-9 - _ .)
	Path     string // asset path below ParentID, slash-separated, last element = asset name; optional for File (default: base name of File), required for URL unless the URL path has a usable base name
	Size     int64  // bytes; optional (remote uploads may give it; >= 0)
	Filetype string // optional MIME type (must contain exactly one '/', no spaces)
	TokenRef string // optional token reference, default "default" (1-64 chars a-z 0-9 - _)
}

const (
	// MaxLineBytes bounds one line, not counting its line terminator. For
	// CSV it bounds a whole record, which quoted fields may spread over
	// several physical lines.
	MaxLineBytes = 64 << 10
	// MaxEntries bounds the entries of one manifest; a bigger job is split
	// into several manifests rather than held in memory at once.
	MaxEntries = 1_000_000
	// DefaultTokenRef is the TokenRef of entries that name none.
	DefaultTokenRef = "default"
)

// fieldID names one manifest field: a JSONL key or a CSV column.
type fieldID uint8

const (
	fFile fieldID = iota
	fURL
	fParentID
	fPath
	fSize
	fFiletype
	fTokenRef
	numFields
)

// fieldList is the help text for unknown keys and columns.
const fieldList = "file, url, parent_id, path, size, filetype, token_ref"

// String returns the field's key / column name, which is also the Field of
// its LineErrors.
func (id fieldID) String() string {
	switch id {
	case fFile:
		return "file"
	case fURL:
		return "url"
	case fParentID:
		return "parent_id"
	case fPath:
		return "path"
	case fSize:
		return "size"
	case fFiletype:
		return "filetype"
	case fTokenRef:
		return "token_ref"
	}
	return "?"
}

func fieldByName(name string) (fieldID, bool) {
	for id := fieldID(0); id < numFields; id++ {
		if id.String() == name {
			return id, true
		}
	}
	return 0, false
}

// fieldSet is a set of fieldIDs.
type fieldSet uint8

func (s fieldSet) has(id fieldID) bool { return s&(1<<id) != 0 }
func (s *fieldSet) add(id fieldID)     { *s |= 1 << id }

// fields is one line's values as read, before validation. Absent and empty
// values are both "".
type fields struct {
	vals    [numFields]string
	size    int64
	hasSize bool
	// bad holds the fields already reported as malformed, so validation
	// does not report them again as missing.
	bad fieldSet
}
