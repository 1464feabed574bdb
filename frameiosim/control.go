package frameiosim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// statsJSON is Stats plus the max creates in any configured window.
type statsJSON struct {
	Stats
	MaxCreatesPerWindow map[string]int `json:"max_creates_per_window"`
	WindowMS            int64          `json:"window_ms"`
}

// limitsJSON is the body of POST /_sim/limits.
type limitsJSON struct {
	CallLimit   *int `json:"call_limit"`
	CreateLimit *int `json:"create_limit"`
}

// serveControl answers the unauthenticated /_sim endpoints used by
// scripts and the demo.
func (s *Server) serveControl(w http.ResponseWriter, r *http.Request) {
	switch r.Method + " " + r.URL.Path {
	case "GET /_sim/stats":
		writeReply(w, reply{status: http.StatusOK, body: s.statsJSON()})
	case "GET /_sim/faults":
		writeReply(w, reply{status: http.StatusOK, body: s.faults()})
	case "POST /_sim/faults":
		s.postFaults(w, r)
	case "POST /_sim/limits":
		s.postLimits(w, r)
	default:
		writeReply(w, apiError(http.StatusNotFound, "no such control endpoint: %s %s (GET /_sim/stats, GET|POST /_sim/faults, POST /_sim/limits)", r.Method, r.URL.Path))
	}
}

func (s *Server) statsJSON() statsJSON {
	st := s.Stats()
	out := statsJSON{Stats: st, MaxCreatesPerWindow: make(map[string]int), WindowMS: s.cfg.Window.Milliseconds()}
	for scope, times := range st.CreatesByScope {
		out.MaxCreatesPerWindow[scope] = maxInWindow(times, s.cfg.Window)
	}
	return out
}

func (s *Server) postFaults(w http.ResponseWriter, r *http.Request) {
	var f Faults
	err := decodeControl(r, &f)
	if err == nil {
		err = f.Validate()
	}
	if err != nil {
		writeReply(w, apiError(http.StatusBadRequest, "%v", err))
		return
	}
	s.SetFaults(f)
	writeReply(w, reply{status: http.StatusOK, body: s.faults()})
}

func (s *Server) postLimits(w http.ResponseWriter, r *http.Request) {
	var l limitsJSON
	err := decodeControl(r, &l)
	switch {
	case err != nil:
	case l.CallLimit == nil && l.CreateLimit == nil:
		err = errors.New("body: want call_limit and/or create_limit")
	case l.CallLimit != nil && *l.CallLimit < 1:
		err = fmt.Errorf("call_limit: %d is not positive", *l.CallLimit)
	case l.CreateLimit != nil && *l.CreateLimit < 1:
		err = fmt.Errorf("create_limit: %d is not positive", *l.CreateLimit)
	}
	if err != nil {
		writeReply(w, apiError(http.StatusBadRequest, "%v", err))
		return
	}
	var calls, creates int
	if l.CallLimit != nil {
		calls = *l.CallLimit
	}
	if l.CreateLimit != nil {
		creates = *l.CreateLimit
	}
	s.SetLimits(calls, creates)
	c, cr := s.lim.rules()
	writeReply(w, reply{status: http.StatusOK, body: map[string]int{"call_limit": c.limit, "create_limit": cr.limit}})
}

// decodeControl reads a small JSON body strictly: unknown fields are
// errors, so a typo is not silently ignored.
func decodeControl(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("body: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("body: %w", err)
	}
	return nil
}
