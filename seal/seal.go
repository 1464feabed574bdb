// Package seal is frameq's one encryption primitive for secrets kept in
// Redis: AES-256-GCM under FRAMEQ_SECRET_KEY, with additional data that
// binds a sealed value to where it belongs (a token ref's chain, a task's
// source URL), so a value copied elsewhere does not open.
//
//	box, err := seal.New(key) // 32 bytes
//	b := box.Seal(plain, []byte("what it belongs to"))
//	plain, err = box.Open(b, []byte("what it belongs to"))
//
// A sealed value is a version byte (1), a random 12-byte nonce and the
// ciphertext with its tag. It imports nothing of ours.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// KeyVar is the environment variable holding the key, standard base64
// (openssl rand -base64 32): the one name every user of the key reports.
const KeyVar = "FRAMEQ_SECRET_KEY"

// KeySize is the AES-256 key's length in bytes.
const KeySize = 32

// Version prefixes every sealed value, so another format can follow.
const Version = 1

// ErrKeySize is a key that is not KeySize bytes long.
var ErrKeySize = errors.New("seal: want a 32-byte key")

// ErrFormat is a value too short, or of another version, to be sealed by Seal.
var ErrFormat = errors.New("seal: not a sealed value")

// ErrOpen is a value that does not open: another key sealed it, or it (or
// its additional data) was altered.
var ErrOpen = errors.New("seal: cannot open: wrong key, or altered")

// Box seals and opens values with one key. It is safe for concurrent use.
type Box struct{ aead cipher.AEAD }

// New returns a Box for key (KeySize bytes).
func New(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("%w, got %d bytes", ErrKeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return &Box{aead: aead}, nil
}

// Seal encrypts plain bound to ad. Random nonces are safe here: a key
// seals far fewer than the 2^32 values GCM allows with them.
func (b *Box) Seal(plain, ad []byte) []byte {
	nonce := make([]byte, b.aead.NonceSize())
	_, _ = rand.Read(nonce) // never fails (Go ≥ 1.24)
	out := append([]byte{Version}, nonce...)
	return b.aead.Seal(out, nonce, plain, ad)
}

// Open decrypts a value Seal made with the same key and ad.
func (b *Box) Open(sealed, ad []byte) ([]byte, error) {
	n := b.aead.NonceSize()
	if len(sealed) < 1+n+b.aead.Overhead() || sealed[0] != Version {
		return nil, ErrFormat
	}
	plain, err := b.aead.Open(nil, sealed[1:1+n], sealed[1+n:], ad)
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}
