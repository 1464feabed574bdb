package redistest

import (
	"bytes"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// LagProxy stands in front of one redis-server. Ordinary connections pass
// through at once; on a replication link (the connecting side sent PSYNC or
// SYNC) what the server sends is held for the proxy's lag before it is
// delivered, like a replica that is behind. Drop closes every connection and
// discards what is held: the writes a master takes with it when it dies
// before its replicas had them.
type LagProxy struct {
	ln  net.Listener
	lag time.Duration

	mu      sync.Mutex
	target  string
	conns   map[*lagConn]bool
	dropped atomic.Int64
}

// NewLagProxy listens on a free loopback port. SetTarget names the server.
func NewLagProxy(lag time.Duration) (*LagProxy, error) { return newLagProxyOn("127.0.0.1", lag) }

// newLagProxyOn listens on a free port of the local address host.
func newLagProxyOn(host string, lag time.Duration) (*LagProxy, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return nil, fmt.Errorf("lag proxy: %w", err)
	}
	p := &LagProxy{ln: ln, lag: lag, conns: map[*lagConn]bool{}}
	go p.accept()
	return p, nil
}

// Addr is the proxy's host:port.
func (p *LagProxy) Addr() string { return p.ln.Addr().String() }

// Port is the proxy's port.
func (p *LagProxy) Port() int { return p.ln.Addr().(*net.TCPAddr).Port }

// SetTarget makes new connections go to addr.
func (p *LagProxy) SetTarget(addr string) {
	p.mu.Lock()
	p.target = addr
	p.mu.Unlock()
}

// Dropped is how many bytes of replication stream Drop has discarded so far.
func (p *LagProxy) Dropped() int64 { return p.dropped.Load() }

// Drop closes every connection through the proxy, discarding the
// replication bytes still held. (A connection the server closes is
// dropped the same way: a dead master's held stream never arrives.)
func (p *LagProxy) Drop() {
	p.mu.Lock()
	conns := p.conns
	p.conns = map[*lagConn]bool{}
	p.mu.Unlock()
	for c := range conns {
		c.close()
	}
}

// Close stops the proxy and closes its connections.
func (p *LagProxy) Close() {
	_ = p.ln.Close()
	p.Drop()
}

func (p *LagProxy) accept() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		target := p.target
		p.mu.Unlock()
		server, err := net.Dial("tcp", target)
		if err != nil {
			_ = client.Close()
			continue
		}
		c := &lagConn{p: p, client: client, server: server, lag: p.lag, wake: make(chan struct{}, 1)}
		p.mu.Lock()
		p.conns[c] = true
		p.mu.Unlock()
		go c.up()
		go c.down()
		go c.deliver()
	}
}

// lagConn is one proxied connection.
type lagConn struct {
	p              *LagProxy
	client, server net.Conn
	lag            time.Duration
	replication    atomic.Bool

	mu     sync.Mutex
	held   []heldChunk
	closed bool
	wake   chan struct{}
}

type heldChunk struct {
	due  time.Time
	data []byte
}

// up copies the client's bytes to the server at once, watching for the
// command that makes this a replication link.
func (c *lagConn) up() {
	buf := make([]byte, 32<<10)
	for {
		n, err := c.client.Read(buf)
		if n > 0 {
			if !c.replication.Load() && (bytes.Contains(bytes.ToUpper(buf[:n]), []byte("PSYNC")) || bytes.Contains(bytes.ToUpper(buf[:n]), []byte("\r\nSYNC\r\n"))) {
				c.replication.Store(true)
			}
			if _, werr := c.server.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	c.close()
}

// down passes the server's bytes on: at once, or held for the lag on a
// replication link.
func (c *lagConn) down() {
	buf := make([]byte, 32<<10)
	for {
		n, err := c.server.Read(buf)
		if n > 0 {
			c.mu.Lock()
			if c.closed {
				c.mu.Unlock()
				return
			}
			due := time.Now()
			if c.replication.Load() {
				due = due.Add(c.lag)
			}
			c.held = append(c.held, heldChunk{due: due, data: bytes.Clone(buf[:n])})
			c.mu.Unlock()
			select {
			case c.wake <- struct{}{}:
			default:
			}
		}
		if err != nil {
			c.close()
			return
		}
	}
}

// deliver writes held chunks to the client when they are due, in order.
func (c *lagConn) deliver() {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return
		}
		var next *heldChunk
		if len(c.held) > 0 {
			next = &c.held[0]
		}
		c.mu.Unlock()
		if next == nil {
			<-c.wake
			continue
		}
		if d := time.Until(next.due); d > 0 {
			select {
			case <-time.After(d):
			case <-c.wake:
				continue
			}
		}
		c.mu.Lock()
		if c.closed || len(c.held) == 0 {
			c.mu.Unlock()
			return
		}
		chunk := c.held[0]
		c.held = c.held[1:]
		c.mu.Unlock()
		if _, err := c.client.Write(chunk.data); err != nil {
			c.close()
			return
		}
	}
}

// close shuts both sides and counts the bytes still held as dropped.
func (c *lagConn) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.closed = true
	var n int64
	for _, h := range c.held {
		n += int64(len(h.data))
	}
	c.held = nil
	c.p.dropped.Add(n)
	c.p.mu.Lock()
	delete(c.p.conns, c)
	c.p.mu.Unlock()
	_ = c.client.Close()
	_ = c.server.Close()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}
