package template

import (
	"testing"

	"github.com/tocsinhq/tocsin/internal/alert"
)

// BenchmarkRenderDigest2000 merges a storm of 2,000 alerts under 50
// alertnames into at most 8 messages of 20,000 bytes.
func BenchmarkRenderDigest2000(b *testing.B) {
	items := storm(2000)
	o := shanghai(b)
	lim := DigestLimits{MaxBytes: 20000, MaxMessages: 8}
	b.ReportAllocs()
	for b.Loop() {
		if _, listed := RenderDigest(items, o, lim); len(listed) != len(items) {
			b.Fatalf("%d listed", len(listed))
		}
	}
}

// BenchmarkRenderGroup renders a group of 12 firing alerts.
func BenchmarkRenderGroup(b *testing.B) {
	g := Group{Policy: "sre-oncall", GroupLabels: alert.Labels{{Name: "alertname", Value: "HighCPU"}}, Firing: cpuGroup(12)}
	o := shanghai(b)
	b.ReportAllocs()
	for b.Loop() {
		if msg := RenderGroup(g, o); len(msg.Alerts) != 12 {
			b.Fatal("alerts lost")
		}
	}
}
