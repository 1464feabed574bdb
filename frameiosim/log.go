package frameiosim

import (
	"net/http"
	"time"
)

// statusWriter remembers the status for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Hijack and Flush.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logRequest logs method, path (never the query: presigned URLs carry
// their signature there), status and duration. Status 0 means no answer
// was sent (dropped connection or client gone).
func (s *Server) logRequest(r *http.Request, w *statusWriter, start time.Time) {
	if s.cfg.Logf == nil {
		return
	}
	s.cfg.Logf("frameio-sim: %s %s → %d in %v", r.Method, r.URL.Path, w.status, time.Since(start).Round(time.Microsecond))
}
