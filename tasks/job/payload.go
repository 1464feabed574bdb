package job

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"

	"github.com/frameq/frameq/ident"
)

// Task type names. A non-Go producer pushes asynq tasks of these types with
// a JSON payload that follows docs/payload.schema.json.
const (
	// TypeUpload uploads one local file: ensure its folder chain, create the
	// asset, PUT its parts.
	TypeUpload = "frameio:asset.upload"
	// TypeRemoteUpload creates one asset that Frame.io fetches itself from
	// a URL; no bytes pass through frameq.
	TypeRemoteUpload = "frameio:asset.remote_upload"
)

// PayloadVersion is the only payload version this worker understands.
const PayloadVersion = 1

// MaxFileSize bounds what a payload may claim (5 TiB, S3's object limit).
const MaxFileSize int64 = 5 << 40

// Upload is the payload of both task types. It names a token by reference,
// never the token itself: payloads sit in Redis and show on the dashboard.
type Upload struct {
	// V is the payload version, always 1.
	V int `json:"v"`
	// Batch groups the tasks of one enqueue run.
	Batch string `json:"batch"`
	// TokenRef names the token the worker uses ("default", "acme").
	TokenRef string `json:"token_ref"`
	// ParentID is the Frame.io folder asset the upload goes under.
	ParentID string `json:"parent_id"`
	// Path is the asset's path below ParentID, slash-separated: its folders
	// are created as needed, its last element is the asset name.
	Path string `json:"path"`
	// File is the absolute local path (TypeUpload only).
	File string `json:"file,omitempty"`
	// Size is the file's size in bytes (TypeUpload; optional for remote).
	Size int64 `json:"size"`
	// MtimeNS is the file's modification time in Unix nanoseconds, to
	// detect a file changed after it was enqueued (TypeUpload only).
	MtimeNS int64 `json:"mtime_ns,omitempty"`
	// SourceURL is what Frame.io fetches (TypeRemoteUpload only). Its
	// user info and query, where it had any, are in SourceSealed: use
	// Source to get the whole URL.
	SourceURL string `json:"source_url,omitempty"`
	// SourceSealed is the whole source URL sealed with FRAMEQ_SECRET_KEY
	// (package seal, unpadded base64url), set by Check when the URL
	// carries credentials; SourceURL then holds only scheme, host and path.
	SourceSealed string `json:"source_sealed,omitempty"`
	// Filetype is the MIME type; detected from the name when empty.
	Filetype string `json:"filetype,omitempty"`
	// Force uploads again even if this file was uploaded before.
	Force bool `json:"force,omitempty"`
}

// Name is the asset name: the last element of Path.
func (u *Upload) Name() string { return path.Base(u.Path) }

// Folders are the folder names between ParentID and the asset.
func (u *Upload) Folders() []string {
	dir := path.Dir(u.Path)
	if dir == "." {
		return nil
	}
	return strings.Split(dir, "/")
}

// Encode returns the JSON payload.
func (u *Upload) Encode() ([]byte, error) { return json.Marshal(u) }

// DecodeUpload parses and validates a payload of the given task type.
// Unknown fields are rejected so a typo in a producer is loud.
func DecodeUpload(taskType string, b []byte) (*Upload, error) {
	var u Upload
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&u); err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	if dec.More() {
		return nil, errors.New("payload: trailing data after the JSON object")
	}
	if err := u.Validate(taskType); err != nil {
		return nil, err
	}
	return &u, nil
}

// Validate checks every field for the task type; the error names the field.
func (u *Upload) Validate(taskType string) error {
	if u.V != PayloadVersion {
		return fmt.Errorf("payload field v: version %d is not supported (want %d)", u.V, PayloadVersion)
	}
	if err := ValidateID("batch", u.Batch); err != nil {
		return err
	}
	if err := ident.TokenRef(u.TokenRef); err != nil {
		return fmt.Errorf("payload field %w", err)
	}
	if err := ValidateID("parent_id", u.ParentID); err != nil {
		return err
	}
	if err := ValidatePath(u.Path); err != nil {
		return fmt.Errorf("payload field %w", err)
	}
	if u.Size < 0 || u.Size > MaxFileSize {
		return fmt.Errorf("payload field size: %d is outside 0..%d", u.Size, MaxFileSize)
	}
	switch taskType {
	case TypeUpload:
		if u.File == "" || !strings.HasPrefix(u.File, "/") {
			return errors.New("payload field file: want an absolute path")
		}
		if u.SourceURL != "" || u.SourceSealed != "" {
			return errors.New("payload field source_url: not allowed on " + TypeUpload)
		}
	case TypeRemoteUpload:
		if u.File != "" {
			return errors.New("payload field file: not allowed on " + TypeRemoteUpload)
		}
		su, err := url.Parse(u.SourceURL)
		if err != nil || (su.Scheme != "https" && su.Scheme != "http") || su.Host == "" {
			return errors.New("payload field source_url: want an http(s) URL")
		}
		return u.validateSealed()
	default:
		return fmt.Errorf("task type %q is not a frameq upload", taskType)
	}
	return nil
}

// ValidateID checks a batch or parent_id by the rule in package ident.
func ValidateID(field, v string) error {
	if err := ident.ID(field, v); err != nil {
		return fmt.Errorf("payload field %w", err)
	}
	return nil
}

// ValidatePath checks an asset path by the rule in package ident: relative,
// slash-separated, no empty, "." or ".." elements, no control characters,
// valid UTF-8. The error starts with the field name, "path: ".
func ValidatePath(p string) error { return ident.Path(p) }
