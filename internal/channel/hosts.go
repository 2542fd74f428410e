package channel

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// Env is what validation needs from the server's configuration: each
// platform's base URL (its host is allowed, and bare tokens expand to it)
// and the operator's allow-list.
type Env struct {
	// DingTalkRobotBase is where custom robots post (https://oapi.dingtalk.com).
	DingTalkRobotBase *url.URL
	// DingTalkAppBase is DingTalk's OpenAPI (https://api.dingtalk.com).
	DingTalkAppBase *url.URL
	// LarkBase is Feishu's (https://open.feishu.cn); LarkIntlBase is
	// Lark's international host (https://open.larksuite.com). Bare tokens
	// expand to LarkBase.
	LarkBase, LarkIntlBase *url.URL
	// WeComBase is where WeCom group robots post (https://qyapi.weixin.qq.com).
	WeComBase *url.URL
	// Allow are the extra hosts the operator allows (--allow-hosts).
	Allow HostList
}

// hostRule is where one kind's URLs may point.
type hostRule struct {
	platforms []*url.URL // https to these hosts is allowed
	// anyHTTPS allows https to any host (the generic webhook); the dial
	// guard still refuses non-public addresses unless allowed.
	anyHTTPS bool
}

func (e Env) rule(k Kind) hostRule {
	switch k {
	case KindDingTalkRobot:
		return hostRule{platforms: []*url.URL{e.DingTalkRobotBase}}
	case KindDingTalkApp:
		return hostRule{platforms: []*url.URL{e.DingTalkAppBase}}
	case KindLarkRobot:
		return hostRule{platforms: []*url.URL{e.LarkBase, e.LarkIntlBase}}
	case KindWeComRobot:
		return hostRule{platforms: []*url.URL{e.WeComBase}}
	case KindWebhook:
		return hostRule{anyHTTPS: true}
	}
	return hostRule{}
}

// platformHost returns the platform base u is on, or nil.
func (r hostRule) platformHost(u *url.URL) *url.URL {
	for _, p := range r.platforms {
		if p != nil && sameHost(u, p) {
			return p
		}
	}
	return nil
}

// HostList is an operator's allow-list of hosts that channel URLs may point
// to beyond the platforms' own: "host" (any port), "host:port", or a CIDR
// ("10.0.0.0/8") matching IP-literal hosts. Plain http is allowed to them,
// for local DingTalk-compatible servers and proxies. The zero value allows
// nothing.
type HostList struct {
	entries  []hostEntry
	allowAll bool
}

// AnyHost is a list that allows every host. Only commands an operator runs
// by hand (tocsin send) use it; --allow-hosts cannot express it.
func AnyHost() HostList { return HostList{allowAll: true} }

type hostEntry struct {
	host   string // lower-case host name or IP; empty for a prefix
	port   string // empty: any port
	prefix netip.Prefix
}

// ParseHostList parses a comma-separated allow-list.
func ParseHostList(s string) (HostList, error) {
	var hl HostList
	for _, raw := range strings.Split(s, ",") {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		if strings.Contains(raw, "/") {
			p, err := netip.ParsePrefix(raw)
			if err != nil {
				return HostList{}, fmt.Errorf("allow-hosts entry %q: not a valid CIDR (like 10.0.0.0/8): %v", raw, err)
			}
			hl.entries = append(hl.entries, hostEntry{prefix: p.Masked()})
			continue
		}
		if strings.Contains(raw, "://") {
			return HostList{}, fmt.Errorf("allow-hosts entry %q: give a host, host:port or CIDR, not a URL", raw)
		}
		host, port := raw, ""
		if h, p, err := net.SplitHostPort(raw); err == nil {
			host, port = h, p
		}
		host = strings.ToLower(strings.Trim(host, "[]"))
		if host == "" {
			return HostList{}, fmt.Errorf("allow-hosts entry %q: the host is empty", raw)
		}
		hl.entries = append(hl.entries, hostEntry{host: host, port: port})
	}
	return hl, nil
}

// Allows reports whether u's host and port are on the list.
func (hl HostList) Allows(u *url.URL) bool {
	if hl.allowAll {
		return true
	}
	host, port := hostPort(u)
	addr, addrErr := netip.ParseAddr(host)
	for _, e := range hl.entries {
		if e.prefix.IsValid() {
			if addrErr == nil && e.prefix.Contains(addr.Unmap()) {
				return true
			}
			continue
		}
		if e.host == host && (e.port == "" || e.port == port) {
			return true
		}
	}
	return false
}

// AllowsAddr reports whether a connection to addr ("host:port", as in a
// URL) that resolved to ip is allowed: the host is on the list, or ip falls
// in one of its CIDRs.
func (hl HostList) AllowsAddr(addr string, ip netip.Addr) bool {
	if hl.allowAll || hl.Allows(&url.URL{Host: addr}) {
		return true
	}
	for _, e := range hl.entries {
		if e.prefix.IsValid() && e.prefix.Contains(ip.Unmap()) {
			return true
		}
	}
	return false
}

// String lists the entries as they were given, normalised.
func (hl HostList) String() string {
	parts := make([]string, len(hl.entries))
	for i, e := range hl.entries {
		switch {
		case e.prefix.IsValid():
			parts[i] = e.prefix.String()
		case e.port != "":
			parts[i] = net.JoinHostPort(e.host, e.port)
		default:
			parts[i] = e.host
		}
	}
	return strings.Join(parts, ",")
}

// checkURL validates a channel URL against its kind's hosts and the
// allow-list: platform hosts (or any host, for the generic webhook) need
// https; allowed hosts may use http. It returns a description of the
// problem, or "".
func checkURL(u *url.URL, r hostRule, allow HostList) string {
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Sprintf("must be an http(s) URL, got scheme %q", u.Scheme)
	}
	if u.Host == "" {
		return "has no host"
	}
	if u.User != nil {
		return "must not carry a user name or password"
	}
	if allow.Allows(u) {
		return ""
	}
	if p := r.platformHost(u); p != nil || r.anyHTTPS {
		if u.Scheme != "https" {
			return fmt.Sprintf("must use https to reach %s (plain http only to hosts the operator allows with --allow-hosts)", u.Host)
		}
		return ""
	}
	var want []string
	for _, p := range r.platforms {
		if p != nil {
			want = append(want, p.Host)
		}
	}
	if len(want) == 0 {
		want = []string{"the platform's host"}
	}
	return fmt.Sprintf("host %q is not allowed: channel URLs must point at %s, or at a host the operator allows with --allow-hosts", u.Host, strings.Join(want, " or "))
}

// OnPlatform reports whether raw points at the platform's own host for
// kind k (not at an allowed proxy or fake).
func (e Env) OnPlatform(k Kind, raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && e.rule(k).platformHost(u) != nil
}

// CheckURL checks, at send time, that a stored channel URL still points at
// the platform's host or an allowed one: the operator may have narrowed
// --allow-hosts since the channel was saved.
func (e Env) CheckURL(k Kind, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("the channel URL does not parse")
	}
	if msg := checkURL(u, e.rule(k), e.Allow); msg != "" {
		return fmt.Errorf("the channel URL %s", msg)
	}
	return nil
}

// hostPort returns u's host, lower-case without a trailing dot, and its
// port, defaulted from the scheme, so "HOST.:443" and "host" compare equal
// for https.
func hostPort(u *url.URL) (host, port string) {
	host = strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	port = u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return host, port
}

// sameHost reports whether u and base name the same host and port.
func sameHost(u, base *url.URL) bool {
	h1, p1 := hostPort(u)
	h2, p2 := hostPort(base)
	return h1 == h2 && p1 == p2
}
