package frameiosim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
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

	// API selects what is served: APIBoth (default), APIV2 or APIV4. The
	// API not served answers 404 under its prefix.
	API API
	// V4Limits overrides the V4 per-route limits of DefaultV4Limits, keyed
	// by route name (RouteFileCreate, ...). A zero Limit or Window in an
	// entry keeps that part of the default. Enforcement applies to them as
	// to the v2 limits; LimitPerAccount too.
	V4Limits map[string]Limit
	// LegacyTokens maps legacy (v2 developer) token → account id. They work
	// on v2 like Tokens; on V4 only with the header
	// x-frameio-legacy-token-auth: true (401 without it). A token may not
	// be in both maps.
	LegacyTokens map[string]string
	// MoreAccounts maps a token (of Tokens or LegacyTokens) → further
	// account ids its user belongs to, each with its own project. On V4
	// they are listed by GET /v4/accounts (after the token's own account)
	// and usable in paths; v2 and RootFolder(token) see only the token's
	// own account (RootFolderOfAccount finds theirs).
	MoreAccounts map[string][]string
	// IMSClients are server-to-server integrations by client id: POST
	// IMSPath (see Server.IMSURL) mints access tokens for them that both
	// APIs accept, acting for the client's account, until they expire.
	IMSClients map[string]IMSClient
	// TokenLifetime is how long a minted access token lives (expires_in is
	// it in whole seconds, rounded up). Default DefaultTokenLifetime.
	TokenLifetime time.Duration
	// IMSMintLimit is how many tokens one client may mint per minute;
	// beyond it IMS answers 429 with Retry-After. 0: no limit.
	IMSMintLimit int
	// CompleteAfter is how long after its last part (a remote upload:
	// after its create) a file becomes complete: v2 upload_completed_at
	// stays null and V4 status stays "created" until then. Default 0: at
	// once.
	CompleteAfter time.Duration
}

// API names the APIs a Server serves.
type API string

// Values of Config.API.
const (
	APIBoth API = "both"
	APIV2   API = "v2"
	APIV4   API = "v4"
)

func (a API) serves(v API) bool { return a == APIBoth || a == v }

// Limit is one V4 route's rate limit: at most Limit calls per Window per
// scope (token, or account with LimitPerAccount).
type Limit struct {
	Limit  int
	Window time.Duration
}

// V4 route names: the keys of Config.V4Limits and Stats.RateLimitedByRoute,
// and the limit names of the frameio client. Each V4 call draws on exactly
// one of them.
const (
	RouteFileCreate   = "file_create"   // POST files/local_upload and files/remote_upload
	RouteFolderCreate = "folder_create" // POST folders/{id}/folders
	RouteListFolders  = "list_folders"  // GET folders/{id}/folders
	RouteListFiles    = "list_files"    // GET folders/{id}/files
	RouteListChildren = "list_children" // GET folders/{id}/children
	RouteShowFile     = "show_file"     // GET files/{id}
	RouteShowFolder   = "show_folder"   // GET folders/{id}
	RouteFileStatus   = "file_status"   // GET files/{id}/status
	RouteFileDelete   = "file_delete"   // DELETE files/{id}
	RouteAccount      = "account"       // GET /v4/me and GET /v4/accounts together
)

// DefaultV4Limits returns the documented per-route limits of Frame.io V4.
func DefaultV4Limits() map[string]Limit {
	sec, minute := time.Second, time.Minute
	return map[string]Limit{
		RouteFileCreate: {5, sec}, RouteFolderCreate: {3, sec},
		RouteListFolders: {5, sec}, RouteListFiles: {5, sec}, RouteListChildren: {100, minute},
		RouteShowFile: {10, sec}, RouteShowFolder: {10, sec}, RouteFileStatus: {5, sec},
		RouteFileDelete: {100, minute}, RouteAccount: {100, minute},
	}
}

// v4Limits merges over the defaults.
func (c Config) v4Limits() map[string]Limit {
	out := DefaultV4Limits()
	for name, l := range c.V4Limits {
		d := out[name]
		if l.Limit > 0 {
			d.Limit = l.Limit
		}
		if l.Window > 0 {
			d.Window = l.Window
		}
		out[name] = d
	}
	return out
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
	// PaymentRequiredFolders are parent ids whose creates answer 402 (V4:
	// 403 "Account locked", V4's answer to an account over its plan).
	PaymentRequiredFolders []string `json:"payment_required_folders"`
	// UploadFailed is the probability that a file whose parts are all in
	// ends upload_failed instead of completing (V4 /status upload_failed,
	// status stays "created"; v2 upload_completed_at stays null). Remote
	// uploads never fail.
	UploadFailed float64 `json:"upload_failed"`
	// LockedAccounts are account ids whose every V4 call answers 403
	// "Account locked" (counted by its route's limit, with its headers).
	LockedAccounts []string `json:"locked_accounts"`
}

// Validate reports the first invalid field of c, naming it. Zero values
// are valid (they mean "default").
func (c Config) Validate() error {
	if err := validTokens("Tokens", c.Tokens); err != nil {
		return err
	}
	if err := validTokens("LegacyTokens", c.LegacyTokens); err != nil {
		return err
	}
	for tok := range c.LegacyTokens {
		if _, ok := c.Tokens[tok]; ok {
			return errors.New("LegacyTokens: a token is also in Tokens")
		}
	}
	for tok, accts := range c.MoreAccounts {
		_, cur := c.Tokens[tok]
		_, old := c.LegacyTokens[tok]
		if !cur && !old && !(len(c.Tokens) == 0 && tok == DefaultToken) {
			return errors.New("MoreAccounts: a token is in neither Tokens nor LegacyTokens")
		}
		for _, a := range accts {
			if a == "" || strings.ContainsAny(a, "/?#") {
				return errors.New("MoreAccounts: an account id is empty or has '/', '?' or '#'")
			}
		}
	}
	if err := c.validV4(); err != nil {
		return err
	}
	if err := c.validIMS(); err != nil {
		return err
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

func validTokens(field string, tokens map[string]string) error {
	for tok, acct := range tokens {
		if tok == "" || strings.ContainsAny(tok, " \t\r\n") {
			return fmt.Errorf("%s: a token is empty or contains white space", field)
		}
		if acct == "" || strings.ContainsAny(acct, "/?#") {
			return fmt.Errorf("%s: a token maps to an empty account id or one with '/', '?' or '#'", field)
		}
	}
	return nil
}

// validIMS checks the IMS settings.
func (c Config) validIMS() error {
	for id, cl := range c.IMSClients {
		switch {
		case id == "" || strings.ContainsAny(id, " \t\r\n"):
			return errors.New("IMSClients: a client id is empty or contains white space")
		case cl.Secret == "":
			return fmt.Errorf("IMSClients: client %q has no Secret", id)
		case cl.Account == "" || strings.ContainsAny(cl.Account, "/?#"):
			return fmt.Errorf("IMSClients: client %q has an empty Account or one with '/', '?' or '#'", id)
		}
	}
	switch {
	case c.TokenLifetime < 0:
		return fmt.Errorf("TokenLifetime: %v is negative", c.TokenLifetime)
	case c.IMSMintLimit < 0:
		return fmt.Errorf("IMSMintLimit: %d is negative", c.IMSMintLimit)
	}
	return nil
}

// validV4 checks the V4 settings.
func (c Config) validV4() error {
	switch c.API {
	case "", APIBoth, APIV2, APIV4:
	default:
		return fmt.Errorf("API: %q is not %q, %q or %q", c.API, APIBoth, APIV2, APIV4)
	}
	if c.CompleteAfter < 0 {
		return fmt.Errorf("CompleteAfter: %v is negative", c.CompleteAfter)
	}
	defaults := DefaultV4Limits()
	for name, l := range c.V4Limits {
		if err := validLimit(defaults, name, l); err != nil {
			return fmt.Errorf("V4Limits: %w", err)
		}
	}
	return nil
}

func validLimit(known map[string]Limit, name string, l Limit) error {
	if _, ok := known[name]; !ok {
		return fmt.Errorf("%q is not a V4 route name (%s)", name, strings.Join(sortedKeys(known), ", "))
	}
	switch {
	case l.Limit < 0:
		return fmt.Errorf("%s: limit %d is negative", name, l.Limit)
	case l.Window < 0:
		return fmt.Errorf("%s: window %v is negative", name, l.Window)
	case l.Window > 0 && l.Window < time.Millisecond:
		return fmt.Errorf("%s: window %v is below 1ms", name, l.Window)
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
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
	if c.TokenLifetime == 0 {
		c.TokenLifetime = DefaultTokenLifetime
	}
	if c.API == "" {
		c.API = APIBoth
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
		{"SlowProb", f.SlowProb}, {"HTMLError", f.HTMLError}, {"UploadFailed", f.UploadFailed},
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
	UploadFailed           float64         `json:"upload_failed"`
	LockedAccounts         []string        `json:"locked_accounts"`
}

// MarshalJSON writes durations as Go duration strings.
func (f Faults) MarshalJSON() ([]byte, error) {
	return json.Marshal(faultsJSON{
		Create500: f.Create500, LostCreate: f.LostCreate, ResetCreate: f.ResetCreate,
		PartFail: f.PartFail, Latency: durationJSON(f.Latency), SlowProb: f.SlowProb,
		SlowDelay: durationJSON(f.SlowDelay), HTMLError: f.HTMLError,
		ForbiddenFolders: f.ForbiddenFolders, PaymentRequiredFolders: f.PaymentRequiredFolders,
		UploadFailed: f.UploadFailed, LockedAccounts: f.LockedAccounts,
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
		UploadFailed: w.UploadFailed, LockedAccounts: w.LockedAccounts,
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
