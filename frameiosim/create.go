package frameiosim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

const maxCreateBody = 1 << 20

// createRequest is the body of POST /assets/{id}/children.
type createRequest struct {
	Type        string          `json:"type"`
	Name        string          `json:"name"`
	Filetype    string          `json:"filetype"`
	Filesize    *int64          `json:"filesize"`
	Source      *sourceJSON     `json:"source"`
	Description string          `json:"description"`
	Properties  json.RawMessage `json:"properties"`
}

// createAsset answers POST /assets/{id}/children, with the create faults:
// 500 before creating, 500 after creating (lost response), or a dropped
// connection after creating.
func (s *Server) createAsset(c *call) reply {
	switch {
	case slices.Contains(c.faults.PaymentRequiredFolders, c.id):
		return apiError(http.StatusPaymentRequired, "you have gone over your Frame.io plan limits (folder %s)", c.id)
	case slices.Contains(c.faults.ForbiddenFolders, c.id):
		return apiError(http.StatusForbidden, "you do not have access to folder %s (asset.create)", c.id)
	}
	parent, rep := s.visible(c, c.id)
	if rep != nil {
		return *rep
	}
	req, err := decodeCreate(c.r)
	if err == nil {
		err = req.validate()
	}
	if err == nil && parent.kind != typeFolder {
		err = fmt.Errorf("parent_id: asset %s is a file, not a folder", c.id)
	}
	if err != nil {
		return apiError(http.StatusUnprocessableEntity, "%v", err)
	}
	if s.chance(c.faults.Create500) {
		s.failedCreates.Add(1)
		return apiError(http.StatusInternalServerError, "unable to complete the request")
	}
	a := s.newAsset(c.id, req)
	if err := s.store.add(a, true); err != nil {
		return apiError(http.StatusNotFound, "asset %s not found: it was moved or deleted", c.id)
	}
	if s.chance(c.faults.LostCreate) {
		s.lostCreates.Add(1)
		return apiError(http.StatusInternalServerError, "unable to complete the request")
	}
	if s.chance(c.faults.ResetCreate) {
		s.lostCreates.Add(1)
		return reply{reset: true}
	}
	return reply{status: http.StatusCreated, body: s.assetView(c.r, *a)}
}

func decodeCreate(r *http.Request) (createRequest, error) {
	var req createRequest
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxCreateBody))
	if err != nil {
		return req, fmt.Errorf("body: cannot read it (at most %d bytes): %w", maxCreateBody, err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return req, errors.New("body: empty; want a JSON object with type and name")
	}
	if err := json.Unmarshal(body, &req); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return req, fmt.Errorf("%s: want a JSON %s, got %s", typeErr.Field, typeErr.Type, typeErr.Value)
		}
		return req, fmt.Errorf("body: malformed JSON: %v", err)
	}
	return req, nil
}

func (q *createRequest) validate() error {
	switch q.Type {
	case typeFile, typeFolder:
	default:
		return fmt.Errorf("type: %q is not \"file\" or \"folder\"", q.Type)
	}
	switch {
	case q.Name == "":
		return errors.New("name: empty")
	case len(q.Name) > 255:
		return fmt.Errorf("name: %d bytes, at most 255", len(q.Name))
	case strings.ContainsAny(q.Name, "/\x00"):
		return errors.New("name: contains '/' or NUL")
	case strings.ContainsFunc(q.Name, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		// Legal in a Unix file name, refused as an asset name.
		return errors.New("name: contains a control character")
	}
	if q.Type == typeFolder {
		return nil
	}
	if q.Source != nil {
		if u, err := url.Parse(q.Source.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return errors.New("source.url: not an absolute http(s) URL")
		}
	}
	switch {
	case q.Filesize == nil && q.Source == nil:
		return errors.New("filesize: required for a file")
	case q.Filesize != nil && *q.Filesize < 0:
		return fmt.Errorf("filesize: %d is negative", *q.Filesize)
	case q.Filesize != nil && *q.Filesize > maxFileSize:
		return fmt.Errorf("filesize: %d exceeds the 5 TiB maximum", *q.Filesize)
	}
	return nil
}

// newAsset builds the asset a valid request asks for, under parentID.
func (s *Server) newAsset(parentID string, q createRequest) *asset {
	now := s.now()
	a := &asset{id: newID(), name: q.Name, kind: q.Type, parentID: parentID,
		description: q.Description, insertedAt: now, api: "v2"}
	if len(q.Properties) > 0 && string(q.Properties) != "null" {
		a.properties = q.Properties
	}
	if q.Type == typeFolder {
		return a
	}
	a.filetype = q.Filetype
	if a.filetype == "" {
		a.filetype = "application/octet-stream"
	}
	if q.Filesize != nil {
		a.filesize = *q.Filesize
	}
	if q.Source != nil { // Frame.io fetches remote uploads itself
		a.sourceURL = q.Source.URL
		a.partsInAt, a.completedAt = now, now.Add(s.cfg.CompleteAfter)
		return a
	}
	a.upload = newUpload(a.filesize, s.cfg.PartSize, now, s.cfg.URLExpiry)
	return a
}
