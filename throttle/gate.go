package throttle

import "context"

// gate is a FIFO lock for one scope and limit set within a process: only its
// holder talks to Redis, so waiting goroutines cost nothing there. Go serves
// blocked channel senders in arrival order, so no local waiter starves.
type gate struct {
	ch    chan struct{}
	users int // guarded by Limiter.mu; the gate is dropped at zero
}

func (g *gate) lock(ctx context.Context) error {
	select {
	case g.ch <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *gate) unlock() { <-g.ch }

// gate returns the gate for key, counting the caller as a user.
func (l *Limiter) gate(key string) *gate {
	l.mu.Lock()
	defer l.mu.Unlock()
	g, ok := l.gates[key]
	if !ok {
		g = &gate{ch: make(chan struct{}, 1)}
		l.gates[key] = g
	}
	g.users++
	return g
}

// dropGate forgets the gate when its last user leaves, so scopes that come
// and go do not leak memory.
func (l *Limiter) dropGate(key string, g *gate) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if g.users--; g.users == 0 {
		delete(l.gates, key)
	}
}
