package wecom

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tocsinhq/tocsin/internal/notify"
)

// BenchmarkRender is the work of one ordinary send before the network:
// render a 15-line alert, with mentions, into one part.
func BenchmarkRender(b *testing.B) {
	msg := alertMessage()
	var text strings.Builder
	for i := range 15 {
		fmt.Fprintf(&text, "- **web-%d** CPU 9%d%% since 09:%02d CST ([graph](https://grafana.example/d/cpu?var-host=web-%d))\n", i, i%10, i, i)
	}
	msg.Text = text.String()
	msg.Mentions = notify.Mentions{People: []notify.Person{wang, li}}
	for _, typ := range []MsgType{MsgMarkdown, MsgText} {
		b.Run(string(typ), func(b *testing.B) {
			r := Robot{MsgType: typ}
			if rd, err := r.Render(msg); err != nil || len(rd.Parts) != 1 {
				b.Fatalf("render: %d parts, %v; want one part", len(rd.Parts), err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Render(msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRenderSplit renders a 100 KB message: more than MaxParts, so
// it is split, found too long, packed again with room for the closing
// line and trimmed (the worst case).
func BenchmarkRenderSplit(b *testing.B) {
	r := Robot{}
	msg := alertMessage()
	msg.Mentions = notify.Mentions{People: []notify.Person{wang}}
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
