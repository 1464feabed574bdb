package seal

import (
	"bytes"
	"errors"
	"testing"
)

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func TestSealOpens(t *testing.T) {
	box, err := New(testKey(1))
	if err != nil {
		t.Fatal(err)
	}
	s := box.Seal([]byte("presigned?sig=abc"), []byte("ad"))
	if bytes.Contains(s, []byte("sig=abc")) {
		t.Fatalf("sealed value holds the plaintext: %q", s)
	}
	if s[0] != Version {
		t.Fatalf("version byte %d", s[0])
	}
	got, err := box.Open(s, []byte("ad"))
	if err != nil || string(got) != "presigned?sig=abc" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if s2 := box.Seal([]byte("presigned?sig=abc"), []byte("ad")); bytes.Equal(s, s2) {
		t.Fatal("two seals of one value are equal: the nonce is not random")
	}
}

func TestOpenRefuses(t *testing.T) {
	box, _ := New(testKey(1))
	other, _ := New(testKey(2))
	s := box.Seal([]byte("secret"), []byte("ad"))
	flipped := bytes.Clone(s)
	flipped[len(flipped)-1] ^= 1
	for name, tc := range map[string]struct {
		box  *Box
		b    []byte
		ad   string
		want error
	}{
		"other key": {other, s, "ad", ErrOpen},
		"other ad":  {box, s, "ad2", ErrOpen},
		"altered":   {box, flipped, "ad", ErrOpen},
		"truncated": {box, s[:10], "ad", ErrFormat},
		"version 2": {box, append([]byte{2}, s[1:]...), "ad", ErrFormat},
		"empty":     {box, nil, "ad", ErrFormat},
	} {
		if _, err := tc.box.Open(tc.b, []byte(tc.ad)); !errors.Is(err, tc.want) {
			t.Errorf("%s: Open error %v, want %v", name, err, tc.want)
		}
	}
}

func TestNewWantsKeySize(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33} {
		if _, err := New(make([]byte, n)); !errors.Is(err, ErrKeySize) {
			t.Errorf("key of %d bytes: %v, want ErrKeySize", n, err)
		}
	}
}
