package frameiosim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// statsJSON is Stats plus the max creates in any configured window.
type statsJSON struct {
	Stats
	MaxCreatesPerWindow map[string]int `json:"max_creates_per_window"`
	WindowMS            int64          `json:"window_ms"`
	// MaxPerRouteWindow is scope → V4 route → the most calls accepted in
	// any interval of that route's window.
	MaxPerRouteWindow map[string]map[string]int `json:"max_per_route_window"`
	// V4Limits is route → its limit in force.
	V4Limits map[string]limitJSON `json:"v4_limits"`
}

// limitJSON is a Limit on the wire.
type limitJSON struct {
	Limit    int   `json:"limit"`
	WindowMS int64 `json:"window_ms"`
}

// limitsJSON is the body of POST /_sim/limits.
type limitsJSON struct {
	CallLimit   *int `json:"call_limit"`
	CreateLimit *int `json:"create_limit"`
	// V4 changes V4 route limits; a zero field keeps its value.
	V4 map[string]limitJSON `json:"v4"`
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
		out.MaxCreatesPerWindow[scope] = PeakInWindow(times, s.cfg.Window)
	}
	out.MaxPerRouteWindow, out.V4Limits = s.routeWindows()
	return out
}

// routeWindows measures every scope's V4 routes against their windows.
func (s *Server) routeWindows() (map[string]map[string]int, map[string]limitJSON) {
	limits := s.V4Limits()
	wire := make(map[string]limitJSON, len(limits))
	for name, l := range limits {
		wire[name] = limitJSON{Limit: l.Limit, WindowMS: l.Window.Milliseconds()}
	}
	maxes := make(map[string]map[string]int)
	for _, scope := range s.lim.scopeKeys() {
		for name, l := range limits {
			if n := s.MaxInWindow(scope, name, l.Window); n > 0 {
				if maxes[scope] == nil {
					maxes[scope] = make(map[string]int)
				}
				maxes[scope][name] = n
			}
		}
	}
	return maxes, wire
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
	case l.CallLimit == nil && l.CreateLimit == nil && l.V4 == nil:
		err = errors.New("body: want call_limit, create_limit and/or v4")
	case l.CallLimit != nil && *l.CallLimit < 1:
		err = fmt.Errorf("call_limit: %d is not positive", *l.CallLimit)
	case l.CreateLimit != nil && *l.CreateLimit < 1:
		err = fmt.Errorf("create_limit: %d is not positive", *l.CreateLimit)
	}
	if err == nil {
		err = checkV4Limits(l.V4)
	}
	if err != nil {
		writeReply(w, apiError(http.StatusBadRequest, "%v", err))
		return
	}
	for name, v := range l.V4 {
		s.lim.setRoute(name, Limit{Limit: v.Limit, Window: time.Duration(v.WindowMS) * time.Millisecond})
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
	body := map[string]any{"call_limit": c.limit, "create_limit": cr.limit}
	if l.V4 != nil { // only then: older scripts read the answer as numbers
		_, body["v4"] = s.routeWindows()
	}
	writeReply(w, reply{status: http.StatusOK, body: body})
}

func checkV4Limits(v4 map[string]limitJSON) error {
	known := DefaultV4Limits()
	for _, name := range sortedKeys(v4) {
		l := Limit{Limit: v4[name].Limit, Window: time.Duration(v4[name].WindowMS) * time.Millisecond}
		if err := validLimit(known, name, l); err != nil {
			return fmt.Errorf("v4: %w", err)
		}
	}
	return nil
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
