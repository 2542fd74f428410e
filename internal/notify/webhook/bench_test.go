package webhook

import (
	"fmt"
	"testing"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/notify"
)

// manyAlerts returns a firing message about n alerts of one group.
func manyAlerts(n int) notify.Message {
	msg := firingMessage()
	msg.Alerts = make([]alert.Alert, n)
	for i := range msg.Alerts {
		msg.Alerts[i] = cpuAlert(fmt.Sprintf("web-%d", i))
	}
	return msg
}

// BenchmarkEncode is the work of one ordinary send before the network: a
// group of 100 alerts encoded, and signed.
func BenchmarkEncode(b *testing.B) {
	msg := manyAlerts(100)
	t := testTarget()
	b.ReportAllocs()
	for b.Loop() {
		body, _, err := Encode(t, msg, testNow)
		if err != nil {
			b.Fatal(err)
		}
		Sign(testSecret, testNow, body)
		b.SetBytes(int64(len(body)))
	}
}

// BenchmarkEncodeTruncated encodes a storm: 5000 alerts, about 3 MiB, of
// which what fits in MaxBodyBytes goes.
func BenchmarkEncodeTruncated(b *testing.B) {
	msg := manyAlerts(5000)
	t := testTarget()
	b.ReportAllocs()
	for b.Loop() {
		_, truncated, err := Encode(t, msg, testNow)
		if err != nil || truncated == 0 {
			b.Fatal(truncated, err)
		}
	}
}
