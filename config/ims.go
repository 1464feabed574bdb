package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/frameq/frameq/seal"
)

// IMSCredentials are a token ref's Adobe IMS credentials: server-to-server
// (client id and secret), or user OAuth (a refresh token, the client id,
// and the secret of web-app credentials). Printing them with any fmt verb
// hides the secrets.
type IMSCredentials struct {
	ClientID     string
	ClientSecret string
	// RefreshToken is the user OAuth bootstrap refresh token
	// (FRAMEQ_IMS_REFRESH_TOKEN[_<REF>]): the ref uses user OAuth, and the
	// token only until Redis holds the ref's chain.
	RefreshToken string
}

// User reports whether the credentials are user OAuth.
func (c IMSCredentials) User() bool { return c.RefreshToken != "" }

// String shows the client id and hides the secrets.
func (c IMSCredentials) String() string {
	hide := func(v string) string {
		if v == "" {
			return `""`
		}
		return "[REDACTED]"
	}
	return fmt.Sprintf("config.IMSCredentials{ClientID:%q ClientSecret:%s RefreshToken:%s}", c.ClientID, hide(c.ClientSecret), hide(c.RefreshToken))
}

// GoString is String, so %#v hides the secret too.
func (c IMSCredentials) GoString() string { return c.String() }

// Format prints String for every verb.
func (c IMSCredentials) Format(f fmt.State, verb rune) { fmt.Fprint(f, c.String()) }

// The credentials' variables: the default ref's, and another ref's with
// "_<REF>" appended. Environment or tokens file only, never flags.
const (
	imsIDVar     = "FRAMEQ_IMS_CLIENT_ID"
	imsSecretVar = "FRAMEQ_IMS_CLIENT_SECRET"
	// imsRefreshVar is environment only (never the tokens file or flags).
	imsRefreshVar = "FRAMEQ_IMS_REFRESH_TOKEN"
	// SecretKeyVar seals the refresh chains and source URLs; environment only.
	SecretKeyVar = seal.KeyVar
)

// ParseSecretKey decodes FRAMEQ_SECRET_KEY's value: 32 bytes in standard
// base64, as openssl rand -base64 32 prints. Errors never quote it.
func ParseSecretKey(v string) ([]byte, error) {
	if v == "" {
		return nil, fmt.Errorf("%s is not set: user OAuth keeps its refresh chain in Redis sealed with it; make one with openssl rand -base64 32", SecretKeyVar)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v))
	if err != nil {
		return nil, fmt.Errorf("%s: not standard base64 (make one with openssl rand -base64 32)", SecretKeyVar)
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("%s: decodes to %d bytes, want 32 (make one with openssl rand -base64 32)", SecretKeyVar, len(key))
	}
	return key, nil
}

// IMSVar is the variable holding base ("FRAMEQ_IMS_CLIENT_ID" or
// "FRAMEQ_IMS_CLIENT_SECRET") for ref.
func IMSVar(base, ref string) string {
	if ref == "default" {
		return base
	}
	return base + "_" + strings.ToUpper(ref)
}

// loadIMS reads FRAMEQ_IMS_CLIENT_ID[_<REF>] and FRAMEQ_IMS_CLIENT_SECRET[_<REF>]
// from vars (the tokens file's variables overlaid with the environment): a
// ref needs both, or neither — unless it has a refresh token
// (FRAMEQ_IMS_REFRESH_TOKEN[_<REF>], from env), which needs the client id
// and FRAMEQ_SECRET_KEY, and the secret only for web-app credentials.
func (c *Config) loadIMS(vars, env map[string]string) error {
	refresh := map[string]string{}
	for name, v := range env {
		ref := "default"
		if name != imsRefreshVar {
			rest, ok := strings.CutPrefix(name, "FRAMEQ_IMS_REFRESH_TOKEN_")
			if !ok {
				continue
			}
			ref = strings.ToLower(rest)
		}
		if err := ValidateRef(ref); err != nil {
			return fmt.Errorf("%s: %v", name, err)
		}
		if !printableValue(v) {
			return fmt.Errorf("%s: contains white space or control characters", name)
		}
		refresh[ref] = v
	}
	ids, secrets := map[string]string{}, map[string]string{}
	for name, v := range vars {
		var into map[string]string
		var rest string
		switch {
		case name == imsIDVar, name == imsSecretVar:
			into, rest = secrets, "default"
			if name == imsIDVar {
				into = ids
			}
		case strings.HasPrefix(name, "FRAMEQ_IMS_CLIENT_ID_"):
			into, rest = ids, strings.TrimPrefix(name, "FRAMEQ_IMS_CLIENT_ID_")
		case strings.HasPrefix(name, "FRAMEQ_IMS_CLIENT_SECRET_"):
			into, rest = secrets, strings.TrimPrefix(name, "FRAMEQ_IMS_CLIENT_SECRET_")
		default:
			continue
		}
		ref := strings.ToLower(rest)
		if err := ValidateRef(ref); err != nil {
			return fmt.Errorf("%s: %v", name, err)
		}
		into[ref] = v
	}
	c.IMSClients = map[string]IMSCredentials{}
	for _, ref := range unionKeys(unionMap(ids, refresh), secrets) {
		id, secret, rt := ids[ref], secrets[ref], refresh[ref]
		switch {
		case rt != "" && id == "":
			return fmt.Errorf("%s is set but %s is not: user OAuth needs the client id", IMSVar(imsRefreshVar, ref), IMSVar(imsIDVar, ref))
		case rt != "" && secret == "" && printableValue(id):
			// A native or single-page app: no secret.
		case id == "":
			return fmt.Errorf("%s is set but %s is not: token ref %q needs both", IMSVar(imsSecretVar, ref), IMSVar(imsIDVar, ref), ref)
		case secret == "":
			return fmt.Errorf("%s is set but %s is not: token ref %q needs both", IMSVar(imsIDVar, ref), IMSVar(imsSecretVar, ref), ref)
		case !printableValue(id):
			return fmt.Errorf("%s: contains white space or control characters", IMSVar(imsIDVar, ref))
		case !printableValue(secret):
			return fmt.Errorf("%s: contains white space or control characters", IMSVar(imsSecretVar, ref))
		}
		c.IMSClients[ref] = IMSCredentials{ClientID: id, ClientSecret: secret, RefreshToken: rt}
	}
	if v := env[SecretKeyVar]; v != "" || len(refresh) > 0 {
		key, err := ParseSecretKey(v)
		if err != nil {
			return err
		}
		c.SecretKey = key
	}
	if len(c.IMSClients) > 0 && c.APIVersion == "v2" {
		return fmt.Errorf("%s: Adobe IMS server-to-server credentials work only with FRAMEQ_API_VERSION=v4", IMSVar(imsIDVar, c.IMSRefs()[0]))
	}
	return nil
}

// IMSRefs are the refs with IMS credentials, sorted.
func (c *Config) IMSRefs() []string {
	refs := make([]string, 0, len(c.IMSClients))
	for r := range c.IMSClients {
		refs = append(refs, r)
	}
	sort.Strings(refs)
	return refs
}

// unionMap is a and b's keys in one map (values irrelevant).
func unionMap(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k := range a {
		out[k] = "x"
	}
	for k := range b {
		out[k] = "x"
	}
	return out
}

func unionKeys(a, b map[string]string) []string {
	set := map[string]bool{}
	for k := range a {
		set[k] = true
	}
	for k := range b {
		set[k] = true
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// printableValue reports whether v has no white space or control
// characters.
func printableValue(v string) bool {
	for _, r := range v {
		if r <= ' ' || r == 0x7f {
			return false
		}
	}
	return true
}

// scopesValue is a comma-separated scope list, as IMS wants it.
type scopesValue string

func (s *scopesValue) String() string { return string(*s) }
func (s *scopesValue) Set(v string) error {
	parts := strings.Split(v, ",")
	for i, p := range parts {
		parts[i] = strings.TrimSpace(p)
		if parts[i] == "" || !printableValue(parts[i]) {
			return errors.New("want comma-separated scopes without spaces, e.g. openid,AdobeID,frame.s2s.all")
		}
	}
	*s = scopesValue(strings.Join(parts, ","))
	return nil
}

// imsURLValue is an http(s) URL without credentials.
type imsURLValue string

func (u *imsURLValue) String() string { return string(*u) }
func (u *imsURLValue) Set(v string) error {
	p, err := url.Parse(v)
	switch {
	case err != nil:
		return errors.New("not a valid URL")
	case (p.Scheme != "https" && p.Scheme != "http") || p.Host == "":
		return errors.New("want an http(s) URL with a host")
	case p.User != nil:
		return errors.New("must not contain credentials")
	}
	*u = imsURLValue(v)
	return nil
}

// Box is the sealer of FRAMEQ_SECRET_KEY (source URLs' credentials, user
// OAuth chains), or nil when no key is set: then job.Check refuses URLs
// that carry credentials, and a worker archives sealed ones saying so.
func (c Config) Box() (*seal.Box, error) {
	if len(c.SecretKey) == 0 {
		return nil, nil
	}
	b, err := seal.New(c.SecretKey)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", SecretKeyVar, err)
	}
	return b, nil
}
