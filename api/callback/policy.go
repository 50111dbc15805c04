package callback

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"time"
)

// ErrRefused marks a callback URL the Policy does not allow (a
// *RefusedError).
var ErrRefused = errors.New("callback URL refused")

// RefusedError says why the Policy refuses a URL. Reason follows the name
// of what holds the URL: "EventCallbackUrl " + Reason.
type RefusedError struct{ Reason string }

func (e *RefusedError) Error() string { return "callback URL refused: the URL " + e.Reason }

// Is makes errors.Is(err, ErrRefused) hold.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

func refused(format string, args ...any) error {
	return &RefusedError{Reason: fmt.Sprintf(format, args...)}
}

// Policy decides which URLs callbacks may go to. didrouter itself is never
// one. A callback is a signed POST to a URL the admin chooses, query
// included, and didrouter's own webhooks must not take it for a request of
// Twilio's. An optional allow-list keeps callbacks on known hosts. A nil
// *Policy checks only that a URL is absolute http(s).
type Policy struct {
	self       map[string]bool // "host:port" of DIDROUTER_PUBLIC_URL, lower case
	listenPort string          // the port the server listens on; "" = unknown
	listenIPs  []netip.Addr    // addresses besides loopback that reach the listener on listenPort
	hosts      []string        // allowed host patterns; empty = any host
}

// PolicyConfig configures a Policy.
type PolicyConfig struct {
	// PublicURL is didrouter's public base URL. Its host is refused on its
	// port. When it names no port, both 80 and 443 are refused, because a
	// proxy in front usually answers both schemes.
	PublicURL string
	// ListenAddr is the address the server is bound to (host:port): its
	// port on a loopback address, on "localhost" and on the bound address
	// is refused.
	ListenAddr string
	// LocalIPs are the machine's addresses, refused on the listen port too
	// when the server listens on all of them (":8080").
	LocalIPs []netip.Addr
	// Hosts is the allow-list (ParseHosts); empty = any host.
	Hosts []string
}

// NewPolicy checks c and returns its Policy.
func NewPolicy(c PolicyConfig) (*Policy, error) {
	p := &Policy{self: map[string]bool{}, hosts: c.Hosts}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || u.Hostname() == "" {
			return nil, fmt.Errorf("callback policy: public URL %q is not an absolute URL", c.PublicURL)
		}
		host := normalHost(u.Hostname())
		if port := u.Port(); port != "" {
			p.self[net.JoinHostPort(host, port)] = true
		} else {
			p.self[net.JoinHostPort(host, "80")] = true
			p.self[net.JoinHostPort(host, "443")] = true
		}
	}
	if c.ListenAddr != "" {
		host, port, err := net.SplitHostPort(c.ListenAddr)
		if err != nil {
			return nil, fmt.Errorf("callback policy: listen address %q: %w", c.ListenAddr, err)
		}
		p.listenPort = port
		ip, err := netip.ParseAddr(host)
		switch {
		case host == "" || err == nil && ip.IsUnspecified():
			for _, a := range c.LocalIPs {
				p.listenIPs = append(p.listenIPs, a.Unmap().WithZone(""))
			}
		case err == nil:
			p.listenIPs = append(p.listenIPs, ip.Unmap().WithZone(""))
		}
	}
	return p, nil
}

// ParseHosts reads a comma-separated allow-list of callback hosts. An entry
// is a host name such as "hooks.example.com", an IP address, or "*.suffix"
// for every name below a domain. "*.corp.example" does not allow
// corp.example itself. Ports, schemes and paths are not part of an entry.
func ParseHosts(s string) ([]string, error) {
	var out []string
	for entry := range strings.SplitSeq(s, ",") {
		h := normalHost(strings.TrimSpace(entry))
		if h == "" {
			continue
		}
		if ip, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil {
			out = append(out, normalHost(ip.String()))
			continue
		}
		name := strings.TrimPrefix(h, "*.")
		if name == "" || !validHostName(name) {
			return nil, fmt.Errorf("%q is not a host name: write hooks.example.com, *.corp.example or an IP address, without scheme, port or path", strings.TrimSpace(entry))
		}
		out = append(out, h)
	}
	return out, nil
}

// validHostName accepts the letters, digits, hyphens, underscores and dots
// of a DNS name with no empty label.
func validHostName(s string) bool {
	for label := range strings.SplitSeq(s, ".") {
		if label == "" {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// normalHost is how hosts are compared: lower case, without the root
// label's dot; an IP address in its canonical form, without zone.
func normalHost(h string) string {
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	if ip, err := netip.ParseAddr(h); err == nil {
		return ip.Unmap().WithZone("").String()
	}
	return h
}

// Check reports why raw may not receive callbacks (wrapping ErrRefused), or
// nil. It is asked when a URL is set through the API and again before
// every try of a callback.
func (p *Policy) Check(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return refused("is not a URL")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return refused("must be an absolute http or https URL, not %q", Redact(raw))
	}
	if p == nil {
		return nil
	}
	host, port := normalHost(u.Hostname()), u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	if p.self[net.JoinHostPort(host, port)] {
		return refused("must not point at didrouter itself (%s is DIDROUTER_PUBLIC_URL's host and port): "+
			"callbacks go to another application", net.JoinHostPort(host, port))
	}
	if p.listenPort != "" && port == p.listenPort && p.local(host) {
		return refused("must not point at didrouter itself (port %s of this machine is its listen address): "+
			"callbacks go to another application", port)
	}
	if len(p.hosts) > 0 && !p.allowed(host) {
		return refused("must be on a host DIDROUTER_CALLBACK_HOSTS allows, not %q", host)
	}
	return nil
}

// local reports whether host names this machine in a way the listener
// answers: a loopback name or address, or one of listenIPs.
func (p *Policy) local(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && p.reachesListener(ip)
}

func (p *Policy) reachesListener(ip netip.Addr) bool {
	ip = ip.Unmap().WithZone("")
	return ip.IsLoopback() || ip.IsUnspecified() || slices.Contains(p.listenIPs, ip)
}

// allowed matches host against the allow-list.
func (p *Policy) allowed(host string) bool {
	for _, h := range p.hosts {
		if suffix, ok := strings.CutPrefix(h, "*"); ok {
			if strings.HasSuffix(host, suffix) && len(host) > len(suffix) {
				return true
			}
		} else if host == h {
			return true
		}
	}
	return false
}

// control refuses a connection to the listen port of this machine,
// whatever name led there (a DNS name that resolves to 127.0.0.1 passes
// Check).
func (p *Policy) control(_, address string, _ syscall.RawConn) error {
	if p == nil || p.listenPort == "" {
		return nil
	}
	host, port, err := net.SplitHostPort(address)
	if err != nil || port != p.listenPort {
		return nil
	}
	if ip, err := netip.ParseAddr(host); err == nil && p.reachesListener(ip) {
		return refused("leads to %s, didrouter's own listen address", address)
	}
	return nil
}

// NewClient returns the HTTP client callbacks are sent with: each request
// bounded by timeout, redirects never followed (a 3xx is the answer), and
// no connection to p's listen address on this machine.
func NewClient(timeout time.Duration, p *Policy) *http.Client {
	var t *http.Transport
	if dt, ok := http.DefaultTransport.(*http.Transport); ok {
		t = dt.Clone()
	} else {
		t = &http.Transport{Proxy: http.ProxyFromEnvironment}
	}
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: p.control}
	t.DialContext = d.DialContext
	return &http.Client{Timeout: timeout, Transport: t, CheckRedirect: refuseRedirect}
}

// refuseRedirect makes a 3xx the answer: following it would re-POST the
// body and its signature to a URL nobody configured.
func refuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
