package dingtalk

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tocsinhq/tocsin/internal/notify"
	"github.com/tocsinhq/tocsin/internal/secret"
)

// BenchmarkSignAndRender is the work of one ordinary send before the
// network: sign the URL and render a 30-line alert as markdown.
func BenchmarkSignAndRender(b *testing.B) {
	r := Robot{
		WebhookURL: secret.NewURL("https://oapi.dingtalk.com/robot/send?access_token=" + testToken),
		Secret:     secret.New(testSecret),
		Keywords:   []string{"告警"},
		AtMobiles:  []string{"13800000000"},
	}
	msg := alertMessage()
	var text strings.Builder
	for i := range 30 {
		fmt.Fprintf(&text, "- **web-%d** CPU 9%d%% since 09:%02d CST ([graph](https://grafana.example/d/cpu?var-host=web-%d))\n", i, i%10, i, i)
	}
	msg.Text = text.String()
	msg.Mentions = notify.Mentions{UserIDs: []string{"user123"}}
	now := time.UnixMilli(vectorMillis)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := r.sendURL(now); err != nil {
			b.Fatal(err)
		}
		if _, err := r.Render(msg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRenderSplit renders a 100 KB message: more than MaxParts, so
// it is split, found too long, trimmed and split again (the worst case).
func BenchmarkRenderSplit(b *testing.B) {
	r := Robot{Keywords: []string{"告警"}, AtMobiles: []string{"13800000000"}}
	msg := alertMessage()
	var text strings.Builder
	for i := 0; text.Len() < 100<<10; i++ {
		fmt.Fprintf(&text, "- 告警 %d：主机 web-%d 磁盘 /data 使用率 9%d%%，\"<阈值> & 趋势\"\n", i, i, i%10)
	}
	msg.Text = text.String()
	b.SetBytes(int64(len(msg.Text)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Render(msg); err != nil {
			b.Fatal(err)
		}
	}
}
