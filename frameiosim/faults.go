package frameiosim

import (
	"context"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"
)

// lockedRand is the fault RNG, shared by all requests.
type lockedRand struct {
	mu sync.Mutex
	r  *rand.Rand
}

func newLockedRand(seed int64) *lockedRand {
	return &lockedRand{r: rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x9e3779b97f4a7c15))}
}

func (l *lockedRand) float64() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Float64()
}

// chance reports whether a fault of probability p fires. 0 and 1 (and
// anything outside) are decided without the RNG, so they are exact.
func (s *Server) chance(p float64) bool {
	switch {
	case p >= 1:
		return true
	case !(p > 0): // also NaN
		return false
	}
	return s.rng.float64() < p
}

// delay sleeps the configured latency, plus SlowDelay with probability
// SlowProb. It reports false if the client went away meanwhile.
func (s *Server) delay(ctx context.Context, f Faults) bool {
	d := max(0, f.Latency)
	if f.SlowDelay > 0 && s.chance(f.SlowProb) {
		d += f.SlowDelay
	}
	if d == 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

const proxyPage = `<html>
<head><title>502 Bad Gateway</title></head>
<body>
<center><h1>502 Bad Gateway</h1></center>
<hr><center>nginx</center>
</body>
</html>
`

// writeProxyError answers like a proxy whose upstream failed: HTML, no
// rate-limit headers.
func writeProxyError(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(http.StatusBadGateway)
	io.WriteString(w, proxyPage)
}

// dropConnection closes the client's connection without an answer, with
// an RST where possible, like a crashed server or a broken network.
func dropConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// HTTP/2 cannot be hijacked; aborting the handler resets the stream.
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	conn.Close()
}
