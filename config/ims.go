package config

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
)

// IMSCredentials are a token ref's Adobe IMS server-to-server credentials.
// Printing them with any fmt verb hides the secret.
type IMSCredentials struct {
	ClientID     string
	ClientSecret string
}

// String shows the client id and hides the secret.
func (c IMSCredentials) String() string {
	secret := `""`
	if c.ClientSecret != "" {
		secret = "[REDACTED]"
	}
	return fmt.Sprintf("config.IMSCredentials{ClientID:%q ClientSecret:%s}", c.ClientID, secret)
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
)

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
// ref needs both, or neither.
func (c *Config) loadIMS(vars map[string]string) error {
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
	for _, ref := range unionKeys(ids, secrets) {
		id, secret := ids[ref], secrets[ref]
		switch {
		case id == "":
			return fmt.Errorf("%s is set but %s is not: token ref %q needs both", IMSVar(imsSecretVar, ref), IMSVar(imsIDVar, ref), ref)
		case secret == "":
			return fmt.Errorf("%s is set but %s is not: token ref %q needs both", IMSVar(imsIDVar, ref), IMSVar(imsSecretVar, ref), ref)
		case !printableValue(id):
			return fmt.Errorf("%s: contains white space or control characters", IMSVar(imsIDVar, ref))
		case !printableValue(secret):
			return fmt.Errorf("%s: contains white space or control characters", IMSVar(imsSecretVar, ref))
		}
		c.IMSClients[ref] = IMSCredentials{ClientID: id, ClientSecret: secret}
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
