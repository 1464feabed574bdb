package e2e

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// The soak's phases of issue 15 items 2 and 3: a Sentinel failover right
// after a file create, and a worker cut off from Redis but not from
// Frame.io.

// failoverAfterCreate kills the master the moment the simulator has answered a file
// create (createTrip), has the Sentinel promote the replica, and restarts
// the old master as the new one's replica (as a restart policy would).
// The fault counts only if the kill dropped writes the replica never had
// (the lag proxy says how many bytes); a kill that found nothing in flight
// is tried again, up to five times.
func failoverAfterCreate(s *soak) string {
	const tries = 5
	for try := 1; try <= tries; try++ {
		lost0 := s.sen.Lost()
		s.trip.arm()
		var rep tripReport
		select {
		case rep = <-s.trip.tripped:
		case <-time.After(time.Minute):
			s.t.Fatalf("failover: no file create reached the simulator in a minute")
		}
		if rep.err != nil {
			s.t.Fatalf("failover: kill the master: %v", rep.err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		newMaster, err := s.sen.Failover(ctx, rep.master)
		if err != nil {
			cancel()
			s.t.Fatalf("failover: %v", err)
		}
		promoted := time.Now()
		lost := s.sen.Lost() - lost0
		err = s.sen.Rejoin(ctx, rep.master)
		cancel()
		if err != nil {
			s.t.Fatalf("failover: rejoin: %v", err)
		}
		s.failoverTries++
		if lost == 0 {
			s.t.Logf("failover %d: the kill found no write in flight; again", try)
			continue
		}
		s.failovers++
		s.lostBytes += lost
		return fmt.Sprintf("master %s killed right after create %d, %d B of unreplicated writes lost; %s master after %v, old one its replica %v later (try %d)",
			rep.master, rep.creates, lost, newMaster, ms(promoted.Sub(rep.at)), ms(time.Since(promoted)), try)
	}
	s.t.Fatalf("failover: %d kills right after a create, none dropped an unreplicated write: the phase proves nothing", tries)
	return ""
}

// partitionSeen is what one partition did.
type partitionSeen struct {
	worker           string
	cutFor           time.Duration
	lastCall         time.Duration // the cut worker's last API call, after the cut
	callsAfterSettle int
	healAt           time.Time
}

// partitionSettle is how long after the cut the cut worker's calls may
// still land: one that got its permit before the cut, or a part PUT (no
// permit) already sent.
const partitionSettle = 3 * time.Second

// partition cuts the namespaced worker's path to Redis (and the
// Sentinel), silently, for d, while it still reaches Frame.io, then heals
// it. First it shows the cut is real: from the namespace Redis times out
// and the simulator answers. Past partitionSettle the worker makes no API
// call (its limiter fails closed) and it does not exit. The others take
// its tasks over once its leases run out; the books at the end show
// nothing doubled or lost. Without network namespaces it is skipped,
// saying why.
func partition(d time.Duration) func(*soak) string {
	return func(s *soak) string {
		if s.ns == nil {
			s.t.Logf("partition skipped: %s", s.nsWhy)
			return "skipped: " + s.nsWhy
		}
		t, ip, w := s.t, s.ns.nsIP, s.workers[nsSlot]
		if s.calls.since(ip, time.Time{}, "") == 0 {
			t.Fatalf("partition: the namespaced worker %s made no API call before the cut: the phase would prove nothing", w.name)
		}
		cutAt := time.Now()
		if err := s.ns.cutNow(); err != nil {
			t.Fatal(err)
		}
		master, err := s.sen.Master(context.Background())
		if err != nil {
			t.Fatalf("partition: %v", err)
		}
		_, port, _ := net.SplitHostPort(master)
		p, _ := strconv.Atoi(port)
		s.ns.checkCut(t, p, s.r.api)
		time.Sleep(d - time.Since(cutAt))
		seen := partitionSeen{worker: w.name, cutFor: d, callsAfterSettle: s.calls.since(ip, cutAt.Add(partitionSettle), "")}
		if last := s.calls.last(ip); last.After(cutAt) {
			seen.lastCall = last.Sub(cutAt)
		}
		if seen.callsAfterSettle != 0 {
			t.Errorf("partition: %s made %d API calls more than %v after its path to Redis was cut: %v",
				w.name, seen.callsAfterSettle, partitionSettle, s.calls.lines(ip, cutAt.Add(partitionSettle)))
		}
		if w.exited() {
			t.Errorf("partition: %s exited while cut off: %v", w.name, w.err)
		}
		seen.healAt = s.ns.heal(t)
		s.partitions = append(s.partitions, seen)
		return fmt.Sprintf("%s cut from Redis for %v (Redis timed out, Frame.io answered from its namespace): last API call %+.1fs after the cut, %d after %v; healed",
			w.name, d, seen.lastCall.Seconds(), seen.callsAfterSettle, partitionSettle)
	}
}

// phaseSummary is the failover and partition phases' part of the soak's
// summary: how many failovers dropped writes, and what the cut workers did
// after each heal.
func (s *soak) phaseSummary() string {
	out := []string{fmt.Sprintf("%d failovers right after a create (%d kills), %d B of unreplicated writes lost", s.failovers, s.failoverTries, s.lostBytes)}
	if s.ns == nil {
		return strings.Join(append(out, "partition skipped: "+s.nsWhy), "; ")
	}
	stopped := 0
	for _, w := range s.all {
		if strings.HasSuffix(w.name, "-ns") {
			stopped += strings.Count(w.logText(), "stopped: redis silent")
		}
	}
	for _, p := range s.partitions {
		out = append(out, fmt.Sprintf("partition of %s for %v: last call %+.1fs after the cut, %d calls after %v, %d calls from the namespace after the heal",
			p.worker, p.cutFor, p.lastCall.Seconds(), p.callsAfterSettle, partitionSettle, s.calls.since(s.ns.nsIP, p.healAt, "")))
	}
	return strings.Join(append(out, fmt.Sprintf("%d uploads of the namespaced worker stopped by its Guard", stopped)), "; ")
}
