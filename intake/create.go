package intake

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/frameq/frameq/ident"
	"github.com/frameq/frameq/manifest"
	"github.com/frameq/frameq/tasks/job"
	"github.com/frameq/frameq/tasks/notify"
)

// request is the body of POST /v1/batches.
type request struct {
	// TokenRef is the items' token ref unless an item names its own.
	TokenRef    string            `json:"token_ref"`
	Items       []json.RawMessage `json:"items"`
	CallbackURL string            `json:"callback_url"`
}

// Created is the answer of POST /v1/batches.
type Created struct {
	Batch           string `json:"batch"`
	Enqueued        int    `json:"enqueued"`
	AlreadyQueued   int    `json:"already_queued"`
	AlreadyUploaded int    `json:"already_uploaded"`
}

// ItemProblem is one refused item of a 422: Item is its index in items
// (from 0), or -1 for the request's own fields; Field is "" when the
// problem is the whole item.
type ItemProblem struct {
	Item   int    `json:"item"`
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

// create answers POST /v1/batches.
func (s *Server) create(w http.ResponseWriter, r *http.Request, key Key) {
	body, ok := s.readBody(w, r)
	if !ok {
		return
	}
	idem := r.Header.Get("Idempotency-Key")
	if idem != "" && !validIdemKey(idem) {
		problem(w, http.StatusBadRequest, "Idempotency-Key: want 1-255 printable ASCII characters")
		return
	}
	var req request
	if msg := decode(body, &req); msg != "" {
		problem(w, http.StatusBadRequest, msg)
		return
	}
	sum := sha256.Sum256(body)
	bodySum := hex.EncodeToString(sum[:])
	if idem != "" && s.replay(w, r, key, idem, bodySum) {
		return
	}
	if len(req.Items) > s.opts.MaxItems {
		problem(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("%d items; at most %d per request", len(req.Items), s.opts.MaxItems))
		return
	}
	uploads, code, answer := s.check(key, &req)
	if code != 0 {
		s.metrics.items.WithLabelValues("refused").Add(float64(len(req.Items)))
		writeJSON(w, code, answer)
		return
	}
	s.enqueue(w, r, key, &req, uploads, idem, bodySum)
}

// readBody reads the capped body; ok false means it answered.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		problem(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body over %d bytes; split the batch", s.opts.MaxBody))
		return nil, false
	case err != nil:
		problem(w, http.StatusBadRequest, "reading the body: "+err.Error())
		return nil, false
	}
	return body, true
}

// decode parses the body; the message says what is wrong, "" if nothing.
func decode(body []byte, req *request) string {
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(req); err != nil {
		return "malformed JSON body: " + err.Error()
	}
	if dec.More() {
		return "malformed JSON body: trailing data after the object"
	}
	if len(req.Items) == 0 {
		return "items: want at least one item"
	}
	return ""
}

func validIdemKey(k string) bool {
	if len(k) > 255 {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// check validates the whole request: 403 for a token ref the key may not
// use, 422 listing every bad item, or the uploads (code 0).
func (s *Server) check(key Key, req *request) ([]*job.Upload, int, any) {
	if req.TokenRef == "" {
		req.TokenRef = manifest.DefaultTokenRef
	}
	var top []ItemProblem
	if err := ident.TokenRef(req.TokenRef); err != nil {
		top = append(top, ItemProblem{Item: -1, Field: "token_ref", Detail: reasonOf(err)})
	} else if !key.Allows(req.TokenRef) {
		return nil, http.StatusForbidden, map[string]string{"error": fmt.Sprintf("key %q may not use token ref %q", key.Name, req.TokenRef)}
	}
	if req.CallbackURL != "" {
		if why := s.opts.Hosts.Check(req.CallbackURL); why != "" {
			top = append(top, ItemProblem{Item: -1, Field: "callback_url", Detail: why})
		} else if stored, err := notify.SealCallback(s.opts.Box, req.CallbackURL); err != nil {
			top = append(top, ItemProblem{Item: -1, Field: "callback_url", Detail: err.Error()})
		} else {
			req.CallbackURL = stored // what Redis holds; the worker opens it
		}
	}
	uploads := make([]*job.Upload, 0, len(req.Items))
	var denied []string
	_, err := manifest.ParseObjects(req.Items, func(e manifest.Entry) error {
		u, err := toUpload(e, req.TokenRef)
		if err != nil {
			return err
		}
		if !key.Allows(u.TokenRef) && !slices.Contains(denied, u.TokenRef) {
			denied = append(denied, u.TokenRef)
		}
		uploads = append(uploads, u)
		return nil
	})
	if len(denied) > 0 {
		return nil, http.StatusForbidden, map[string]string{"error": fmt.Sprintf("key %q may not use token ref(s) %s", key.Name, strings.Join(denied, ", "))}
	}
	probs := append(top, manifestProblems(err)...)
	if len(probs) == 0 && err == nil {
		// The payload rules, which the manifest's imply for all but a few
		// (e.g. size at most 5 TiB): the Enqueuer would refuse them anyway.
		if _, err := job.Check("b-check", uploads, s.opts.Box); err != nil {
			probs = jobProblems(err)
		}
	}
	if len(probs) > 0 {
		return nil, http.StatusUnprocessableEntity, map[string]any{"errors": probs}
	}
	return uploads, 0, nil
}

// toUpload is an item as a payload; a local file must be an absolute path
// the server can stat (workers see the media at the same path).
func toUpload(e manifest.Entry, tokenRef string) (*job.Upload, error) {
	u := &job.Upload{V: job.PayloadVersion, TokenRef: tokenRef, ParentID: e.ParentID, Path: e.Path, Size: e.Size, Filetype: e.Filetype}
	if e.TokenRef != manifest.DefaultTokenRef {
		u.TokenRef = e.TokenRef
	}
	if e.URL != "" {
		u.SourceURL = e.URL
		return u, nil
	}
	if !filepath.IsAbs(e.File) {
		return nil, &manifest.FieldError{Field: "file", Msg: "want an absolute path (as the workers see it)"}
	}
	info, err := os.Stat(e.File)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, &manifest.FieldError{Field: "file", Msg: "no such file"}
	case err != nil:
		return nil, &manifest.FieldError{Field: "file", Msg: "cannot stat: " + errors.Unwrap(err).Error()}
	case !info.Mode().IsRegular():
		return nil, &manifest.FieldError{Field: "file", Msg: "not a regular file"}
	}
	u.File, u.Size, u.MtimeNS = filepath.Clean(e.File), info.Size(), info.ModTime().UnixNano()
	return u, nil
}

func manifestProblems(err error) []ItemProblem {
	var bad manifest.Errors
	if !errors.As(err, &bad) {
		if err != nil {
			return []ItemProblem{{Item: -1, Field: "items", Detail: err.Error()}}
		}
		return nil
	}
	out := make([]ItemProblem, len(bad))
	for i, e := range bad {
		out[i] = ItemProblem{Item: e.Line - 1, Field: e.Field, Detail: e.Msg}
	}
	return out
}

// payloadField finds the field a payload error names.
var payloadField = regexp.MustCompile(`^payload field ([a-z_]+): `)

func jobProblems(err error) []ItemProblem {
	var inv *job.InvalidError
	if !errors.As(err, &inv) {
		return []ItemProblem{{Item: -1, Field: "items", Detail: err.Error()}}
	}
	out := make([]ItemProblem, len(inv.Items))
	for i, it := range inv.Items {
		msg, field := it.Err.Error(), ""
		if m := payloadField.FindStringSubmatch(msg); m != nil {
			field, msg = m[1], strings.TrimPrefix(msg, m[0])
		}
		out[i] = ItemProblem{Item: it.Index, Field: field, Detail: msg}
	}
	return out
}

// reasonOf is an ident error's reason without its field.
func reasonOf(err error) string {
	var e *ident.Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return err.Error()
}
