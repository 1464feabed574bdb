package manifest

// Why not encoding/json: a manifest line must name unknown and duplicate
// keys and check each member's JSON kind. json.Unmarshal into a struct
// matches keys case-insensitively, silently keeps the last of a duplicate
// and drops unknown keys unless DisallowUnknownFields, which stops at the
// first; into map[string]json.RawMessage it also loses duplicates (and
// order), so neither can report "duplicate key". json.Decoder.Token can see
// every key, but builds a value per token and was several times slower on
// BenchmarkParseJSONL. So json.Valid checks a line (and names the syntax
// error), and these scanners then walk the top-level object without
// building values. They are safe only on input json.Valid accepted: on it
// they cannot run off the end (every string closes, brackets balance).

// objectMembers calls fn with each member's raw key (a string literal) and
// raw value, in order, if b (valid JSON) is an object; otherwise it reports
// false. The raw texts are substrings of b, so a line's values share one
// allocation.
func objectMembers(b string, fn func(key, raw string)) bool {
	i := skipSpace(b, 0)
	if b[i] != '{' {
		return false
	}
	i = skipSpace(b, i+1)
	if b[i] == '}' {
		return true
	}
	for {
		end := stringEnd(b, i)
		key := b[i:end]
		i = skipSpace(b, skipSpace(b, end)+1) // past ':'
		end = valueEnd(b, i)
		fn(key, b[i:end])
		i = skipSpace(b, end)
		if b[i] == '}' {
			return true
		}
		i = skipSpace(b, i+1) // past ','
	}
}

func skipSpace(b string, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index just past the string literal starting at i.
func stringEnd(b string, i int) int {
	for j := i + 1; ; j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
}

// valueEnd returns the index just past the value starting at i.
func valueEnd(b string, i int) int {
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for j := i; ; j++ {
			switch b[j] {
			case '"':
				j = stringEnd(b, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
	}
	j := i // a number, true, false or null
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' &&
		b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
		j++
	}
	return j
}
