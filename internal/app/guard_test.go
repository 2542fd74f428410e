package app

import (
	"net/netip"
	"testing"

	"github.com/tocsinhq/tocsin/internal/channel"
)

func TestDialGuard(t *testing.T) {
	allow, err := channel.ParseHostList("fake.local:9999,192.168.50.0/24")
	if err != nil {
		t.Fatal(err)
	}
	guard := dialGuard(allow)
	for _, c := range []struct {
		addr, ip string
		ok       bool
	}{
		{"oapi.dingtalk.com:443", "203.119.206.1", true},
		{"oapi.dingtalk.com:443", "127.0.0.1", false},       // a poisoned or rebinding DNS answer
		{"oapi.dingtalk.com:443", "169.254.169.254", false}, // cloud metadata
		{"oapi.dingtalk.com:443", "10.1.2.3", false},
		{"oapi.dingtalk.com:443", "::1", false},
		{"oapi.dingtalk.com:443", "fd00::1", false},
		{"oapi.dingtalk.com:443", "0.0.0.0", false},
		{"fake.local:9999", "127.0.0.1", true}, // the operator allowed this host
		{"fake.local:9998", "127.0.0.1", false},
		{"proxy.corp:3128", "192.168.50.7", true}, // allowed by CIDR after resolution
	} {
		err := guard(c.addr, netip.MustParseAddr(c.ip))
		if (err == nil) != c.ok {
			t.Errorf("guard(%s → %s) = %v, want allowed=%v", c.addr, c.ip, err, c.ok)
		}
	}
}
