package dispatch

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/route"
)

func TestAnnouncing(t *testing.T) {
	a, b, c := alert.Alert{Fingerprint: 1}, alert.Alert{Fingerprint: 2}, alert.Alert{Fingerprint: 3}
	for _, tc := range []struct {
		name   string
		reason route.Reason
		firing []alert.Alert
		last   []alert.Fingerprint
		want   []alert.Fingerprint
	}{
		{"first notification", route.ReasonFirst, []alert.Alert{a, b}, nil, []alert.Fingerprint{1, 2}},
		{"one joins", route.ReasonNewFiring, []alert.Alert{a, b, c}, []alert.Fingerprint{1, 3}, []alert.Fingerprint{2}},
		{"a resolve alone announces no firing alert", route.ReasonNewResolved, []alert.Alert{a}, []alert.Fingerprint{1, 2}, nil},
		{"a reminder announces all again", route.ReasonRepeat, []alert.Alert{a, b}, []alert.Fingerprint{1, 2}, []alert.Fingerprint{1, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []alert.Fingerprint
			for _, x := range announcing(route.Decision{Reason: tc.reason, Firing: tc.firing}, tc.last) {
				got = append(got, x.Fingerprint)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("announcing (-want +got):\n%s", diff)
			}
		})
	}
}
