package frameiosim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Enforcement selects the algorithm that enforces a rate limit.
type Enforcement string

const (
	// LeakyBucket refills continuously: a burst of up to Limit calls, then
	// one call every Window/Limit. This is what Frame.io documents.
	LeakyBucket Enforcement = "leaky"
	// SlidingWindow is strict: never more than Limit calls accepted in ANY
	// interval of length Window. It is what proves a client "never over the
	// limit".
	SlidingWindow Enforcement = "sliding"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultToken       = "dev-token"
	DefaultAccount     = "acct-dev"
	DefaultCallLimit   = 50
	DefaultCreateLimit = 5
	DefaultWindow      = time.Second
	DefaultPartSize    = 8 << 20
	DefaultURLExpiry   = 24 * time.Hour
)

// Limits on what one create may ask for, like S3's multipart limits.
const (
	maxParts    = 10000
	maxFileSize = 5 << 40
)

// Config configures a Server. The zero value is a single dev token with
// Frame.io's documented limits.
type Config struct {
	// Tokens maps bearer token → account id. Default {"dev-token": "acct-dev"}.
	Tokens map[string]string
	// LimitPerAccount counts limits per account (all of its tokens together)
	// instead of per token.
	LimitPerAccount bool
	// CallLimit is the number of API calls per Window per scope (every API
	// call counts, creates included). Default 50.
	CallLimit int
	// CreateLimit is the number of POST /assets/:id/children per Window per
	// scope. Default 5.
	CreateLimit int
	// Window is the length of the rate-limit window. Default 1s.
	Window time.Duration
	// Enforcement is LeakyBucket (default) or SlidingWindow.
	Enforcement Enforcement
	// NoRetryAfter omits Retry-After from 429s (x-ratelimit-* stay).
	NoRetryAfter bool
	// PartSize is the server-chosen part size: a file of n bytes gets
	// max(1, ceil(n/PartSize)) upload_urls (at most 10000, larger parts
	// beyond that). Default 8 MiB.
	PartSize int64
	// URLExpiry is the lifetime of presigned upload URLs. Default 24h.
	URLExpiry time.Duration
	// Faults are injected failures; see SetFaults to change them later.
	Faults Faults
	// Seed seeds the fault RNG; 0 means time-based.
	Seed int64
	// Logf, if set, receives one line per request. It never sees tokens or
	// presigned query strings.
	Logf func(format string, args ...any)
}

// Faults are probabilities (0..1) and delays of injected failures.
// Probabilities of exactly 0 and 1 never consult the RNG.
type Faults struct {
	// Create500 answers a create 500 without creating.
	Create500 float64 `json:"create_500"`
	// LostCreate creates the asset but answers 500 (a lost response).
	LostCreate float64 `json:"lost_create"`
	// ResetCreate creates the asset, then drops the connection unanswered.
	ResetCreate float64 `json:"reset_create"`
	// PartFail answers a part PUT 500 and discards its bytes.
	PartFail float64 `json:"part_fail"`
	// Latency is added to every API call before it answers.
	Latency time.Duration `json:"latency"`
	// SlowProb is the probability an API call sleeps SlowDelay before
	// answering (its work is done first, so a slow create still creates).
	SlowProb float64 `json:"slow_prob"`
	// SlowDelay is the extra sleep of a slow call.
	SlowDelay time.Duration `json:"slow_delay"`
	// HTMLError is the probability that an API call is answered 502 with an
	// HTML page by a "proxy" in front of the API: the call never reaches
	// the API, so nothing is counted or created and there are no
	// x-ratelimit-* headers.
	HTMLError float64 `json:"html_error"`
	// ForbiddenFolders are parent ids whose creates answer 403.
	ForbiddenFolders []string `json:"forbidden_folders"`
	// PaymentRequiredFolders are parent ids whose creates answer 402.
	PaymentRequiredFolders []string `json:"payment_required_folders"`
}

// Validate reports the first invalid field of c, naming it. Zero values
// are valid (they mean "default").
func (c Config) Validate() error {
	for tok, acct := range c.Tokens {
		if tok == "" || strings.ContainsAny(tok, " \t\r\n") {
			return errors.New("Tokens: a token is empty or contains white space")
		}
		if acct == "" {
			return errors.New("Tokens: a token maps to an empty account id")
		}
	}
	switch {
	case c.CallLimit < 0:
		return fmt.Errorf("CallLimit: %d is negative", c.CallLimit)
	case c.CreateLimit < 0:
		return fmt.Errorf("CreateLimit: %d is negative", c.CreateLimit)
	case c.Window < 0:
		return fmt.Errorf("Window: %v is negative", c.Window)
	case c.Window > 0 && c.Window < time.Millisecond:
		return fmt.Errorf("Window: %v is below 1ms", c.Window)
	case c.PartSize < 0:
		return fmt.Errorf("PartSize: %d is negative", c.PartSize)
	case c.URLExpiry < 0:
		return fmt.Errorf("URLExpiry: %v is negative", c.URLExpiry)
	}
	switch c.Enforcement {
	case "", LeakyBucket, SlidingWindow:
	default:
		return fmt.Errorf("Enforcement: %q is not %q or %q", c.Enforcement, LeakyBucket, SlidingWindow)
	}
	if err := c.Faults.Validate(); err != nil {
		return fmt.Errorf("Faults.%w", err)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if len(c.Tokens) == 0 {
		c.Tokens = map[string]string{DefaultToken: DefaultAccount}
	}
	if c.CallLimit == 0 {
		c.CallLimit = DefaultCallLimit
	}
	if c.CreateLimit == 0 {
		c.CreateLimit = DefaultCreateLimit
	}
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.Enforcement == "" {
		c.Enforcement = LeakyBucket
	}
	if c.PartSize == 0 {
		c.PartSize = DefaultPartSize
	}
	if c.URLExpiry == 0 {
		c.URLExpiry = DefaultURLExpiry
	}
	if c.Seed == 0 {
		c.Seed = time.Now().UnixNano()
	}
	return c
}

// Validate reports the first invalid field of f, naming it.
func (f Faults) Validate() error {
	probs := []struct {
		name string
		p    float64
	}{
		{"Create500", f.Create500}, {"LostCreate", f.LostCreate},
		{"ResetCreate", f.ResetCreate}, {"PartFail", f.PartFail},
		{"SlowProb", f.SlowProb}, {"HTMLError", f.HTMLError},
	}
	for _, p := range probs {
		if !(p.p >= 0 && p.p <= 1) { // also catches NaN
			return fmt.Errorf("%s: probability %v is not within [0, 1]", p.name, p.p)
		}
	}
	if f.Latency < 0 {
		return fmt.Errorf("Latency: %v is negative", f.Latency)
	}
	if f.SlowDelay < 0 {
		return fmt.Errorf("SlowDelay: %v is negative", f.SlowDelay)
	}
	return nil
}

// faultsJSON is Faults on the wire: durations are Go duration strings
// ("250ms") or integer nanoseconds.
type faultsJSON struct {
	Create500              float64         `json:"create_500"`
	LostCreate             float64         `json:"lost_create"`
	ResetCreate            float64         `json:"reset_create"`
	PartFail               float64         `json:"part_fail"`
	Latency                json.RawMessage `json:"latency,omitempty"`
	SlowProb               float64         `json:"slow_prob"`
	SlowDelay              json.RawMessage `json:"slow_delay,omitempty"`
	HTMLError              float64         `json:"html_error"`
	ForbiddenFolders       []string        `json:"forbidden_folders"`
	PaymentRequiredFolders []string        `json:"payment_required_folders"`
}

// MarshalJSON writes durations as Go duration strings.
func (f Faults) MarshalJSON() ([]byte, error) {
	return json.Marshal(faultsJSON{
		Create500: f.Create500, LostCreate: f.LostCreate, ResetCreate: f.ResetCreate,
		PartFail: f.PartFail, Latency: durationJSON(f.Latency), SlowProb: f.SlowProb,
		SlowDelay: durationJSON(f.SlowDelay), HTMLError: f.HTMLError,
		ForbiddenFolders: f.ForbiddenFolders, PaymentRequiredFolders: f.PaymentRequiredFolders,
	})
}

// UnmarshalJSON reads the snake_case fields of MarshalJSON and rejects
// unknown ones, so a typo in a script is an error rather than a no-op.
func (f *Faults) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var w faultsJSON
	if err := dec.Decode(&w); err != nil {
		return fmt.Errorf("faults: %w", err)
	}
	latency, err := parseDurationJSON("latency", w.Latency)
	if err != nil {
		return err
	}
	slow, err := parseDurationJSON("slow_delay", w.SlowDelay)
	if err != nil {
		return err
	}
	*f = Faults{
		Create500: w.Create500, LostCreate: w.LostCreate, ResetCreate: w.ResetCreate,
		PartFail: w.PartFail, Latency: latency, SlowProb: w.SlowProb,
		SlowDelay: slow, HTMLError: w.HTMLError,
		ForbiddenFolders: w.ForbiddenFolders, PaymentRequiredFolders: w.PaymentRequiredFolders,
	}
	return nil
}

func durationJSON(d time.Duration) json.RawMessage {
	b, _ := json.Marshal(d.String()) // a string always marshals
	return b
}

// parseDurationJSON accepts a Go duration string or integer nanoseconds
// (what encoding/json makes of a time.Duration).
func parseDurationJSON(field string, raw json.RawMessage) (time.Duration, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("faults: %s: %w", field, err)
		}
		return d, nil
	}
	var n int64
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, fmt.Errorf("faults: %s: want a duration string like \"250ms\" or integer nanoseconds", field)
	}
	return time.Duration(n), nil
}
