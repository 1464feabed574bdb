package config

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/frameq/frameq/frameio"
)

// flag.Value implementations that reject bad input with a reason.

type stringValue string

func (s *stringValue) String() string     { return string(*s) }
func (s *stringValue) Set(v string) error { *s = stringValue(v); return nil }

type choice struct {
	p       *string
	allowed []string
}

func oneOf(p *string, allowed ...string) *choice { return &choice{p, allowed} }

func (c *choice) String() string {
	if c == nil || c.p == nil {
		return ""
	}
	return *c.p
}

func (c *choice) Set(v string) error {
	for _, a := range c.allowed {
		if v == a {
			*c.p = v
			return nil
		}
	}
	return fmt.Errorf("want one of %s", strings.Join(c.allowed, ", "))
}

type rateValue Rate

func (r *rateValue) String() string { return Rate(*r).String() }
func (r *rateValue) Set(v string) error {
	x, err := ParseRate(v)
	if err != nil {
		return err
	}
	*r = rateValue(x)
	return nil
}

type positiveInt int

func (p *positiveInt) String() string { return strconv.Itoa(int(*p)) }
func (p *positiveInt) Set(v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 || n > 100000 {
		return errors.New("want a whole number from 1 to 100000")
	}
	*p = positiveInt(n)
	return nil
}

type nonNegativeInt int

func (p *nonNegativeInt) String() string { return strconv.Itoa(int(*p)) }
func (p *nonNegativeInt) Set(v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 1000 {
		return errors.New("want a whole number from 0 to 1000")
	}
	*p = nonNegativeInt(n)
	return nil
}

// waitReplicasValue is a replica count from 0 to 16, or "auto".
type waitReplicasValue int

func (w *waitReplicasValue) String() string {
	if int(*w) == AutoWaitReplicas {
		return "auto"
	}
	return strconv.Itoa(int(*w))
}
func (w *waitReplicasValue) Set(v string) error {
	if v == "auto" {
		*w = AutoWaitReplicas
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 16 {
		return errors.New(`want "auto" or a whole number of replicas from 0 to 16`)
	}
	*w = waitReplicasValue(n)
	return nil
}

// waitTimeoutValue bounds a WAIT: at most 2s, so it ends before the Redis
// client's 3s read timeout would break the connection.
type waitTimeoutValue time.Duration

func (d *waitTimeoutValue) String() string { return time.Duration(*d).String() }
func (d *waitTimeoutValue) Set(v string) error {
	x, err := time.ParseDuration(v)
	if err != nil || x < time.Millisecond || x > 2*time.Second {
		return errors.New("want a duration from 1ms to 2s, such as 500ms")
	}
	*d = waitTimeoutValue(x)
	return nil
}

type durationValue time.Duration

func (d *durationValue) String() string { return time.Duration(*d).String() }
func (d *durationValue) Set(v string) error {
	x, err := time.ParseDuration(v)
	if err != nil || x <= 0 {
		return errors.New("want a positive duration such as 30s or 10m")
	}
	*d = durationValue(x)
	return nil
}

// nonNegativeDuration is a duration where 0 means "none".
type nonNegativeDuration time.Duration

func (d *nonNegativeDuration) String() string { return time.Duration(*d).String() }
func (d *nonNegativeDuration) Set(v string) error {
	x, err := time.ParseDuration(v)
	if err != nil || x < 0 {
		return errors.New("want a duration such as 24h or 30m, or 0 for none")
	}
	*d = nonNegativeDuration(x)
	return nil
}

type fractionValue float64

func (f *fractionValue) String() string { return strconv.FormatFloat(float64(*f), 'g', -1, 64) }
func (f *fractionValue) Set(v string) error {
	x, err := strconv.ParseFloat(v, 64)
	if err != nil || x < 0 || x >= 0.5 {
		return errors.New("want a number from 0 to below 0.5")
	}
	*f = fractionValue(x)
	return nil
}

type boolValue bool

func (b *boolValue) String() string { return strconv.FormatBool(bool(*b)) }
func (b *boolValue) Set(v string) error {
	x, err := strconv.ParseBool(v)
	if err != nil {
		return errors.New("want true or false")
	}
	*b = boolValue(x)
	return nil
}

// IsBoolFlag lets "-dashboard-writable" stand alone on the command line.
func (b *boolValue) IsBoolFlag() bool { return true }

// RouteRates are rates by limit name, written "name=5/s,name=100/m". Set
// overrides the named limits and keeps the others; an unknown name is an
// error, so a typo cannot leave a route at its default unnoticed.
type RouteRates map[string]Rate

// DefaultRouteLimits are Frame.io V4's documented per-route rates.
func DefaultRouteLimits() RouteRates {
	out := RouteRates{}
	for name, r := range frameio.V4DefaultLimits() {
		out[name] = Rate(r)
	}
	return out
}

// String lists every rate, sorted by name.
func (r *RouteRates) String() string {
	if r == nil {
		return ""
	}
	parts := make([]string, 0, len(*r))
	for _, name := range slices.Sorted(maps.Keys(*r)) {
		parts = append(parts, name+"="+(*r)[name].String())
	}
	return strings.Join(parts, ",")
}

// Set parses name=rate pairs over the current rates.
func (r *RouteRates) Set(v string) error {
	next := maps.Clone(*r)
	if next == nil {
		next = DefaultRouteLimits()
	}
	for _, pair := range strings.Split(v, ",") {
		name, rate, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok {
			return fmt.Errorf("%q: want name=rate, e.g. file_create=5/s", pair)
		}
		if _, known := next[name]; !known {
			return fmt.Errorf("%q: unknown limit; known: %s", name, strings.Join(slices.Sorted(maps.Keys(next)), ", "))
		}
		x, err := ParseRate(rate)
		if err != nil {
			return fmt.Errorf("%s: %v", name, err)
		}
		next[name] = x
	}
	*r = next
	return nil
}

// hostList is a comma-separated list of host[:port] patterns, "*." allowed
// as the first label.
type hostList []string

func (h *hostList) String() string {
	if h == nil {
		return ""
	}
	return strings.Join(*h, ",")
}

func (h *hostList) Set(v string) error {
	var out []string
	for _, s := range strings.Split(v, ",") {
		s = strings.ToLower(strings.TrimSpace(s))
		if s == "" {
			continue
		}
		host := strings.TrimPrefix(s, "*.")
		if h, port, err := net.SplitHostPort(host); err == nil {
			if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
				return fmt.Errorf("%q: port must be 1 to 65535", s)
			}
			host = h
		}
		if host == "" || strings.ContainsAny(host, "*/?#@ \t") {
			return fmt.Errorf("%q: want host, host:port or *.domain, comma-separated", s)
		}
		out = append(out, s)
	}
	*h = out
	return nil
}
