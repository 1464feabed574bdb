// Package throttle is a Redis-backed rate limiter that every worker shares:
// at the limit, never over it, however many processes run.
//
//	l, err := throttle.New(rdb, throttle.Config{Limits: map[string]throttle.Limit{
//		"calls":   {Rate: 50, Per: time.Second},
//		"creates": {Rate: 5, Per: time.Second},
//	}})
//	if err != nil { ... }
//	// Before POST /assets/{id}/children: one "calls" and one "creates" permit.
//	if err := l.Wait(ctx, "token:dev", "calls", "creates"); err != nil { ... }
//	resp, err := http.DefaultClient.Do(req)
//	if resp.StatusCode == http.StatusTooManyRequests {
//		l.Penalize(ctx, "token:dev", retryAfter) // every worker pauses
//	}
//	l.Observe(ctx, "token:dev", "creates", limitHeader, windowHeader)
//
// # Algorithm
//
// Each limit of each scope is a GCRA ("generic cell rate algorithm") key in
// Redis holding a theoretical arrival time (TAT). A permit under emission
// interval T = Per/Rate and burst B is allowed when TAT-now <= (B-1)·T, and
// then TAT = max(TAT, now)+T. With the default burst 1 permits are at least
// T apart, so no window of length Per ever holds more than Rate of them. One
// Lua script checks every named limit and the scope's 429 hold before it
// advances any of them (all or nothing), using Redis TIME as the only clock.
// A refusal changes nothing and returns the exact wait; Wait, whose caller
// is going to sleep anyway, may instead reserve a permit at most one interval
// ahead and sleep exactly until it, so waking late on a busy machine costs
// no throughput; a waiter further away gets a ticket in a queue shared by
// all processes and comes back exactly when its slot is in reach, so
// processes are served in turn at about two script calls per permit. A
// permit used later than Margin can absorb pushes the schedule back; with
// Reserve, the caller also reports when its request really left
// (Permit.Sent), so a process starved between the permit and the write
// pushes it back too. A caller that writes to Redis just before its request
// (an upload's create claim) can put the try for its permit in the same
// pipeline (Stage) and carry it to the request (WithStaged): a reservation
// that takes no ticket, so a refusal changes nothing and Wait serves the
// caller as usual. Keys are
// "<prefix>:{<scope>}:<limit>", plus ":hold", ":adapt" and ":queue:<limits>"
// per scope; the hash
// tag keeps a scope's keys in one Redis Cluster slot.
//
// # Listening to the server
//
// Penalize (after a 429) writes the scope's hold, which every worker's script
// honours, and cuts the scope's rates multiplicatively; they recover
// additively (AIMD). Observe adopts a lower limit announced by the server's
// x-ratelimit-* headers. ObserveRemaining reads x-ratelimit-remaining: while
// every answer for a whole window leaves room to spare although callers queue
// for the limit (a leaky bucket paced at its rate), the limit runs without
// Margin; the first answer without room restores it. Room seen while the
// limit idles proves nothing: a strict window has room for a lone call too.
// Nor does a silence: after two windows without a report of room (a Redis
// outage, an idle limit) the window of room starts again.
//
// # Failure
//
// Without Redis there is no permit (fail closed). Wait retries with capped
// exponential back-off, a bounded number of times, then returns the error.
// A process-local golang.org/x/time/rate guard at the configured rate sits
// behind Redis: it never grants anything, it only keeps one process under
// the limit should Redis lose its state.
package throttle
