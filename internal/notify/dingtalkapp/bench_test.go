package dingtalkapp

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tocsinhq/tocsin/internal/notify"
)

// BenchmarkSendToUsers sends a 30-line alert to 45 users through the fake
// over loopback HTTP: render once, three batchSend calls, the token from
// the cache. It measures the client and the fake together, not DingTalk.
func BenchmarkSendToUsers(b *testing.B) {
	clk := newClock()
	f, app := startFake(b, clk, nil)
	users := userIDs(45)
	f.AddUsers(users...)
	c := newClient(clk)
	msg := benchMessage()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.SendToUsers(b.Context(), app, users, msg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRender is the work of one ordinary send before the network:
// a 30-line alert with three buttons.
func BenchmarkRender(b *testing.B) {
	msg := benchMessage()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Render(msg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRenderTrim renders a 100 KB message: too long, so the cut is
// searched for (the worst case).
func BenchmarkRenderTrim(b *testing.B) {
	msg := benchMessage()
	var text strings.Builder
	for i := 0; text.Len() < 100<<10; i++ {
		fmt.Fprintf(&text, "- 告警 %d：主机 web-%d 磁盘 /data 使用率 9%d%%，\"<阈值> & 趋势\"\n", i, i, i%10)
	}
	msg.Text = text.String()
	b.SetBytes(int64(len(msg.Text)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Render(msg); err != nil {
			b.Fatal(err)
		}
	}
}

func benchMessage() notify.Message {
	msg := alertMessage()
	var text strings.Builder
	for i := range 30 {
		fmt.Fprintf(&text, "- **web-%d** CPU 9%d%% since 09:%02d CST ([graph](https://grafana.example/d/cpu?var-host=web-%d))\n", i, i%10, i, i)
	}
	msg.Text = text.String()
	msg.Buttons = []notify.Button{details, silence, claim}
	return msg
}
