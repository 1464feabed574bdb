package notify

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/frameq/frameq/seal"
	"github.com/frameq/frameq/tasks/job"
)

// sealedPrefix marks a stored callback URL sealed with FRAMEQ_SECRET_KEY;
// an unmarked one is stored as given (no credentials, or recorded before
// sealing existed).
const sealedPrefix = "sealed:"

// callbackAD binds a sealed value to being a callback URL.
var callbackAD = []byte("frameq callback_url v1")

// SealCallback is the form of callback URL raw that Redis may hold: raw
// itself, or, when it carries user info, a query or a fragment, raw sealed
// with box. Without a box such a URL is refused, naming the key.
func SealCallback(box *seal.Box, raw string) (string, error) {
	if _, secret := job.PublicURL(raw); !secret {
		return raw, nil
	}
	if box == nil {
		return "", errors.New("carries credentials (user info or a query) that would sit in Redis in plaintext; set FRAMEQ_SECRET_KEY (the same on every worker) to store them sealed, or give a URL without them (the webhook is signed)")
	}
	return sealedPrefix + base64.RawURLEncoding.EncodeToString(box.Seal([]byte(raw), callbackAD)), nil
}

// openCallback is the URL a stored callback stands for.
func openCallback(box *seal.Box, stored string) (string, error) {
	rest, sealed := strings.CutPrefix(stored, sealedPrefix)
	if !sealed {
		return stored, nil
	}
	if box == nil {
		return "", errors.New("callback_url is sealed, and this worker has no FRAMEQ_SECRET_KEY to open it")
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err == nil {
		b, err = box.Open(b, callbackAD)
	}
	if err != nil {
		return "", fmt.Errorf("callback_url: the sealed value cannot be opened: FRAMEQ_SECRET_KEY is not the key it was sealed with, or it was altered")
	}
	return string(b), nil
}
