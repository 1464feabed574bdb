package e2e

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"regexp"
	"sort"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/frameq/frameq/frameiosim"
)

// arrivals records when each HTTP request to one TCP port reached the
// loopback interface, by the kernel's clock: a packet socket on lo stamps
// every segment as the sender's write hands it over, whoever is scheduled.
// The simulator's own limiter counts at handler time instead, which on a
// starved machine can bunch calls that arrived apart (or spread calls that
// arrived together). Needs CAP_NET_RAW.
type arrivals struct {
	fd   int
	stop chan struct{}
	done chan struct{}

	mu   sync.Mutex
	reqs []arrival
}

// arrival is one request line seen on the wire.
type arrival struct {
	at     time.Time
	method string
	path   string
}

// requestLine matches the start of an HTTP/1.x request in a segment.
var requestLine = regexp.MustCompile(`^(GET|POST|PUT|DELETE|PATCH|HEAD) (\S+) HTTP/1\.[01]\r\n`)

// captureArrivals starts recording the requests sent to 127.0.0.1:port
// until the test ends. It returns an error (the caller decides whether to
// skip) where packet sockets are not allowed.
func captureArrivals(t *testing.T, port int) (*arrivals, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM, int(htons(unix.ETH_P_IP)))
	if err != nil {
		return nil, fmt.Errorf("packet socket: %w", err)
	}
	a := &arrivals{fd: fd, stop: make(chan struct{}), done: make(chan struct{})}
	if err := a.setup(port); err != nil {
		unix.Close(fd)
		return nil, err
	}
	go a.read()
	t.Cleanup(a.close)
	return a, nil
}

func (a *arrivals) setup(port int) error {
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		return fmt.Errorf("loopback interface: %w", err)
	}
	// Only inbound TCP segments of at most 4 KiB to port, first 600
	// bytes: a rate-limited request (GET, DELETE, a POST with a little
	// JSON) is one small segment, and part bodies, which would fill the
	// buffer, come in big ones.
	filter := []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0xfffff000 + 4}, // SKF_AD_PKTTYPE
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: unix.PACKET_HOST, Jf: 8},
		{Code: unix.BPF_LD | unix.BPF_H | unix.BPF_ABS, K: 2}, // IP total length
		{Code: unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K, K: 4096, Jt: 6},
		{Code: unix.BPF_LD | unix.BPF_B | unix.BPF_ABS, K: 9}, // IP protocol
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: unix.IPPROTO_TCP, Jf: 4},
		{Code: unix.BPF_LDX | unix.BPF_B | unix.BPF_MSH, K: 0}, // IP header length
		{Code: unix.BPF_LD | unix.BPF_H | unix.BPF_IND, K: 2},  // TCP destination port
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: uint32(port), Jf: 1},
		{Code: unix.BPF_RET | unix.BPF_K, K: 600},
		{Code: unix.BPF_RET | unix.BPF_K, K: 0},
	}
	steps := []error{
		unix.SetsockoptSockFprog(a.fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}),
		unix.Bind(a.fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IP), Ifindex: lo.Index}),
		unix.SetsockoptInt(a.fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1),
		unix.SetsockoptInt(a.fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 32<<20),
		unix.SetsockoptTimeval(a.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 200_000}),
	}
	if err := errors.Join(steps...); err != nil {
		return fmt.Errorf("packet socket on lo: %w", err)
	}
	return nil
}

func (a *arrivals) read() {
	defer close(a.done)
	buf, oob := make([]byte, 2048), make([]byte, 256)
	for {
		select {
		case <-a.stop:
			return
		default:
		}
		n, oobn, _, _, err := unix.Recvmsg(a.fd, buf, oob, 0)
		if err != nil {
			continue // the receive timeout, to look at stop
		}
		at, ok := stampOf(oob[:oobn])
		if !ok {
			continue
		}
		if m, p, ok := parseRequest(buf[:n]); ok {
			a.mu.Lock()
			a.reqs = append(a.reqs, arrival{at: at, method: m, path: p})
			a.mu.Unlock()
		}
	}
}

func (a *arrivals) close() {
	close(a.stop)
	<-a.done
	unix.Close(a.fd)
}

// drops is how many packets the kernel dropped for want of buffer: if not
// zero, some arrivals are missing.
func (a *arrivals) drops() uint32 {
	st, err := unix.GetsockoptTpacketStats(a.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	if err != nil {
		return 0
	}
	return st.Drops
}

// since returns the requests that arrived at or after from, by time.
func (a *arrivals) since(from time.Time) []arrival {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []arrival
	for _, r := range a.reqs {
		if !r.at.Before(from) {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].at.Before(out[j].at) })
	return out
}

// stampOf finds the SCM_TIMESTAMPNS of a received packet.
func stampOf(oob []byte) (time.Time, bool) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return time.Time{}, false
	}
	for _, m := range msgs {
		if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_TIMESTAMPNS && len(m.Data) >= 16 {
			sec := int64(binary.NativeEndian.Uint64(m.Data[0:8]))
			nsec := int64(binary.NativeEndian.Uint64(m.Data[8:16]))
			return time.Unix(sec, nsec), true
		}
	}
	return time.Time{}, false
}

// parseRequest returns the request line at the start of an IPv4 TCP
// segment's payload, if there is one.
func parseRequest(pkt []byte) (method, path string, ok bool) {
	if len(pkt) < 20 {
		return "", "", false
	}
	ip := int(pkt[0]&0xf) * 4
	if len(pkt) < ip+20 {
		return "", "", false
	}
	tcp := int(pkt[ip+12]>>4) * 4
	payload := pkt[min(len(pkt), ip+tcp):]
	if end := bytes.Index(payload, []byte("\r\n")); end < 0 || !requestLine.Match(payload[:end+2]) {
		return "", "", false
	}
	m := requestLine.FindSubmatch(payload)
	return string(m[1]), string(m[2]), true
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// The replay must refuse what the simulator's bucket refuses: 5 per second
// holds 5 calls at once, refuses a sixth, and has room again 200 ms later.
func TestRefusedByBucketIsTheSimulatorsBucket(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms ...int) []time.Time {
		var out []time.Time
		for _, m := range ms {
			out = append(out, t0.Add(time.Duration(m)*time.Millisecond))
		}
		return out
	}
	for _, tc := range []struct {
		times []time.Time
		want  int
	}{
		{at(0, 0, 0, 0, 0), 0},
		{at(0, 0, 0, 0, 0, 0), 1},
		{at(0, 0, 0, 0, 0, 199), 1},
		{at(0, 0, 0, 0, 0, 200), 0},
		{at(0, 200, 400, 600, 800, 1000, 1000, 1000), 0}, // paced, then its burst
	} {
		if got := refusedByBucket(tc.times, 5, time.Second); got != tc.want {
			t.Errorf("refusedByBucket(%v) = %d, want %d", tc.times, got, tc.want)
		}
	}
	if got := frameiosim.PeakInWindow(at(0, 200, 400, 600, 800, 1000), time.Second); got != 5 {
		t.Errorf("frameiosim.PeakInWindow of 6 calls 200 ms apart = %d, want 5: the window is (t-1s, t]", got)
	}
}
