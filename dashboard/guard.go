package dashboard

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"net/http"
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
