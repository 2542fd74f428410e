package lark

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tocsinhq/tocsin/internal/notify"
	"github.com/tocsinhq/tocsin/internal/secret"
)

// benchMessage is an ordinary alert: 30 lines with a link each, one
// mention, two buttons.
func benchMessage() notify.Message {
	msg := alertMessage()
	var text strings.Builder
	for i := range 30 {
		fmt.Fprintf(&text, "- **web-%d** CPU 9%d%% since 09:%02d CST ([graph](https://grafana.example/d/cpu?var-host=web-%d))\n", i, i%10, i, i)
	}
	msg.Text = text.String()
	msg.Buttons = []notify.Button{details, silence}
	msg.Mentions = notify.Mentions{People: []notify.Person{bo}}
	return msg
}

// BenchmarkSignAndRender is the work of one ordinary send before the
// network: render the alert, sign it and encode the body.
func BenchmarkSignAndRender(b *testing.B) {
	msg := benchMessage()
	now := time.Unix(vectorSeconds, 0)
	for _, typ := range []MsgType{MsgInteractive, MsgPost, MsgText} {
		b.Run(string(typ), func(b *testing.B) {
			bot := Bot{
				WebhookURL: secret.NewURL("https://open.feishu.cn" + hookPath + testToken),
				Secret:     secret.New(testSecret),
				Keywords:   []string{"告警"},
				MsgType:    typ,
			}
			b.ReportAllocs()
			for b.Loop() {
				rd, err := bot.Render(msg)
				if err != nil {
					b.Fatal(err)
				}
				p := rd.Parts[0]
				p.Timestamp, p.Sign = Sign(bot.Secret.Reveal(), now)
				if _, err := p.Encode(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRenderSplit renders a 100 KB message: more than MaxParts, so
// it is split, found too long, trimmed and split again (the worst case).
func BenchmarkRenderSplit(b *testing.B) {
	msg := alertMessage()
	var text strings.Builder
	for i := 0; text.Len() < 100<<10; i++ {
		fmt.Fprintf(&text, "- 告警 %d：主机 web-%d 磁盘 /data 使用率 9%d%%，\"<阈值> & 趋势\" [图](https://grafana.example/d/%d)\n", i, i, i%10, i)
	}
	msg.Text = text.String()
	for _, typ := range []MsgType{MsgInteractive, MsgPost} {
		b.Run(string(typ), func(b *testing.B) {
			bot := Bot{Keywords: []string{"告警"}, MsgType: typ}
			b.SetBytes(int64(len(msg.Text)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bot.Render(msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
