package worker

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/frameq/frameq/dashboard"
)

func (w *Worker) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(rw http.ResponseWriter, _ *http.Request) {
		writeJSON(rw, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", w.ready)
	mux.Handle("GET /metrics", w.metrics.Handler())
	mux.Handle(dashboard.DefaultRootPath+"/", w.dash)
	return mux
}

// ready: Redis answers and every token passed its last check.
func (w *Worker) ready(rw http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	problems := map[string]string{}
	if err := w.rdb.Ping(ctx).Err(); err != nil {
		problems["redis"] = err.Error()
	}
	w.mu.Lock()
	if w.tokensOK != nil {
		problems["tokens"] = w.tokensOK.Error()
	}
	w.mu.Unlock()
	if len(problems) > 0 {
		writeJSON(rw, http.StatusServiceUnavailable, map[string]any{"status": "not ready", "problems": problems})
		return
	}
	writeJSON(rw, http.StatusOK, map[string]string{"status": "ready"})
}

func writeJSON(rw http.ResponseWriter, status int, v any) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	_ = json.NewEncoder(rw).Encode(v)
}
