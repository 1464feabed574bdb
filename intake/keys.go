package intake

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/frameq/frameq/ident"
)

// Key is one producer's API key. Its secret is only ever compared, never
// logged or stored in Redis: batches record the key's Name.
type Key struct {
	// Name identifies the producer in batch records and logs.
	Name string
	// Refs are the token refs the key may use; nil means every one.
	Refs []string
	// sum is SHA-256 of the secret: comparing fixed-length digests in
	// constant time hides the secret's length as well as its bytes.
	sum [32]byte
}

// NewKey returns a key; refs nil allows every token ref.
func NewKey(name, secret string, refs []string) (Key, error) {
	if err := ident.TokenRef(name); err != nil {
		return Key{}, fmt.Errorf("key name %q: want 1-64 of a-z 0-9 _ -", name)
	}
	if len(secret) < 16 {
		return Key{}, fmt.Errorf("key %q: the key is shorter than 16 characters", name)
	}
	for _, r := range refs {
		if err := ident.TokenRef(r); err != nil {
			return Key{}, fmt.Errorf("key %q: token ref %q: want 1-64 of a-z 0-9 _ -", name, r)
		}
	}
	return Key{Name: name, Refs: refs, sum: sha256.Sum256([]byte(secret))}, nil
}

// Allows reports whether the key may use token ref.
func (k Key) Allows(ref string) bool { return k.Refs == nil || slices.Contains(k.Refs, ref) }

// ParseKeys reads a keys file: one key per line, "name key refs" where
// refs is a comma-separated list of token refs or "*" for all; blank lines
// and lines starting with # are skipped. Errors name the line, never the key.
func ParseKeys(r io.Reader) ([]Key, error) {
	var keys []Key
	names := map[string]bool{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			return nil, fmt.Errorf("line %d: want: name key ref1,ref2 (or *), got %d fields", n, len(f))
		}
		var refs []string
		if f[2] != "*" {
			refs = strings.Split(f[2], ",")
		}
		k, err := NewKey(f[0], f[1], refs)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", n, err)
		}
		if names[k.Name] {
			return nil, fmt.Errorf("line %d: key name %q given twice", n, k.Name)
		}
		names[k.Name] = true
		keys = append(keys, k)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return keys, nil
}

// authenticate finds the key whose secret is presented. Every key is
// compared, in constant time, whether or not one matched already.
func authenticate(keys []Key, presented string) (Key, bool) {
	sum := sha256.Sum256([]byte(presented))
	var found Key
	ok := 0
	for _, k := range keys {
		if subtle.ConstantTimeCompare(sum[:], k.sum[:]) == 1 {
			found, ok = k, 1
		}
	}
	return found, ok == 1 && presented != ""
}
