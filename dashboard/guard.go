package dashboard

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"path"
)

// readOnly refuses every method that could change state. asynqmon's own
// ReadOnly only guards the API routes it knows; this covers everything.
func readOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			writeError(w, http.StatusForbidden,
				"the dashboard is read-only: "+r.Method+" is refused; write actions need a writable dashboard with "+EnvUser+" and "+EnvPassword)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// basicAuth requires user and password on every request. Both sides are
// hashed first so the comparison takes the same time whatever the lengths.
func basicAuth(user, password string, next http.Handler) http.Handler {
	wantUser, wantPass := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(password))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		gotUser, gotPass := sha256.Sum256([]byte(u)), sha256.Sum256([]byte(p))
		userOK := subtle.ConstantTimeCompare(gotUser[:], wantUser[:])
		passOK := subtle.ConstantTimeCompare(gotPass[:], wantPass[:])
		if !ok || userOK&passOK != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="frameq dashboard", charset="UTF-8"`)
			writeError(w, http.StatusUnauthorized, "the dashboard needs a user and password")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// securityHeaders keeps the dashboard out of other sites' frames, where its
// buttons could be clicked for the operator.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r)
	})
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// metricsOff says why there is no metrics page, where asynqmon would answer
// a 500 (its API) or a blank page (its UI route) for want of Prometheus.
const metricsOff = "the dashboard has no metrics page: asynqmon's charts need a Prometheus server " +
	"scraping asynq's own series, which frameq does not run; queue figures are on the worker's /metrics " +
	"(frameq_queue_tasks, frameq_queue_latency_seconds)"

// noMetrics answers asynqmon's metrics API and page with 404 and why.
func noMetrics(root string, next http.Handler) http.Handler {
	api, page := root+"/api/metrics", root+"/metrics"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch path.Clean(r.URL.Path) {
		case api:
			writeError(w, http.StatusNotFound, metricsOff)
		case page:
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(metricsOff + "\n"))
		default:
			next.ServeHTTP(w, r)
		}
	})
}
