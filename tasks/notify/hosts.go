package notify

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Hosts are the host[:port] patterns a callback URL may point at. A
// pattern without a port allows any port; "*.example.com" allows every
// subdomain of example.com (not example.com itself). Hosts compare
// case-insensitively.
type Hosts []string

// ParseHosts checks patterns; the error names the bad one.
func ParseHosts(patterns []string) (Hosts, error) {
	out := make(Hosts, 0, len(patterns))
	for _, p := range patterns {
		p = strings.ToLower(strings.TrimSpace(p))
		if p == "" {
			continue
		}
		host := p
		if h, port, err := net.SplitHostPort(p); err == nil {
			if port == "" || strings.Trim(port, "0123456789") != "" {
				return nil, fmt.Errorf("webhook host %q: bad port", p)
			}
			host = h
		}
		name := strings.TrimPrefix(host, "*.")
		if name == "" || strings.ContainsAny(name, "*/?#@ ") {
			return nil, fmt.Errorf("webhook host %q: want host, host:port or *.domain", p)
		}
		out = append(out, p)
	}
	return out, nil
}

// Check reports why raw may not be a callback URL, or "" if it may: an
// http(s) URL without user info whose host matches a pattern. The reason
// never repeats the URL, whose query may be a secret.
func (h Hosts) Check(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "not a URL"
	case u.Scheme != "https" && u.Scheme != "http":
		return "want an http or https URL"
	case u.Hostname() == "":
		return "missing host"
	case u.User != nil:
		return "must not carry user info"
	case len(h) == 0:
		return "callbacks are disabled: the server has no FRAMEQ_WEBHOOK_HOSTS"
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	for _, p := range h {
		if matches(p, host, port) {
			return ""
		}
	}
	return fmt.Sprintf("host %q is not one of FRAMEQ_WEBHOOK_HOSTS", u.Host)
}

func matches(pattern, host, port string) bool {
	ph, pp := pattern, ""
	if h, p, err := net.SplitHostPort(pattern); err == nil {
		ph, pp = h, p
	}
	if pp != "" && pp != port {
		return false
	}
	if rest, ok := strings.CutPrefix(ph, "*."); ok {
		return strings.HasSuffix(host, "."+rest)
	}
	return ph == host
}
