package manifest

import "encoding/json"

// ParseObjects validates JSON objects handed over one by one, such as the
// items of an HTTP request, by exactly the rules of a JSONL manifest line:
// object i is checked as line i+1, so each LineError's Line is the object's
// index plus one. check, as in ParseChecked, is applied to every
// well-formed entry. It is all or nothing, like Parse: any bad object
// gives (nil, *Errors) listing every bad one.
func ParseObjects(objs []json.RawMessage, check func(Entry) error) ([]Entry, error) {
	p := &parser{limits: limits{maxLine: MaxLineBytes, maxEntries: MaxEntries}, extra: check}
	for i, raw := range objs {
		if !p.count(i + 1) {
			break
		}
		p.jsonLine(i+1, raw)
	}
	return p.result()
}
