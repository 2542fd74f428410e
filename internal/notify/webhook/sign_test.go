package webhook

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A vector computed outside Go (Python's hmac module), so that Sign is
// checked against the scheme as documented, not against itself.
const (
	vectorSecret    = "tocsin-webhook-secret"
	vectorTimestamp = "1700000000"
	vectorBody      = `{"version":"4","status":"firing","alerts":[]}`
	vectorSignature = "sha256=6c94ba52bb47c99563dfdde4a25652083292aa7f520441524fac132f067c19f3"
)

var vectorTime = time.Unix(1700000000, 0)

func TestSignVector(t *testing.T) {
	// Sub-second parts do not matter: the timestamp is whole seconds.
	ts, sig := Sign(vectorSecret, vectorTime.Add(999*time.Millisecond), []byte(vectorBody))
	if ts != vectorTimestamp || sig != vectorSignature {
		t.Errorf("Sign = %s, %s; want %s, %s", ts, sig, vectorTimestamp, vectorSignature)
	}
}

func TestVerify(t *testing.T) {
	body := []byte(vectorBody)
	tests := []struct {
		name      string
		secret    string
		timestamp string
		signature string
		body      []byte
		now       time.Time
		tolerance time.Duration
		want      error // nil, ErrSignature or ErrTimestamp
	}{
		{"vector", vectorSecret, vectorTimestamp, vectorSignature, body, vectorTime, 0, nil},
		{"upper-case hex", vectorSecret, vectorTimestamp, "sha256=" + strings.ToUpper(vectorSignature[7:]), body, vectorTime, 0, nil},
		{"5 minutes late", vectorSecret, vectorTimestamp, vectorSignature, body, vectorTime.Add(5 * time.Minute), 0, nil},
		{"5 minutes and 1 s late", vectorSecret, vectorTimestamp, vectorSignature, body, vectorTime.Add(5*time.Minute + time.Second), 0, ErrTimestamp},
		{"5 minutes early", vectorSecret, vectorTimestamp, vectorSignature, body, vectorTime.Add(-5 * time.Minute), 0, nil},
		{"5 minutes and 1 s early", vectorSecret, vectorTimestamp, vectorSignature, body, vectorTime.Add(-5*time.Minute - time.Second), 0, ErrTimestamp},
		{"own tolerance", vectorSecret, vectorTimestamp, vectorSignature, body, vectorTime.Add(time.Hour), 2 * time.Hour, nil},
		{"timestamp not a number", vectorSecret, "soon", vectorSignature, body, vectorTime, 0, ErrTimestamp},
		{"timestamp in milliseconds", vectorSecret, vectorTimestamp + "000", vectorSignature, body, vectorTime, 0, ErrTimestamp},
		{"timestamp overflows", vectorSecret, "-9223372036854775808", vectorSignature, body, vectorTime, 0, ErrTimestamp},
		{"no timestamp", vectorSecret, "", vectorSignature, body, vectorTime, 0, ErrTimestamp},
		{"other secret", "another-secret", vectorTimestamp, vectorSignature, body, vectorTime, 0, ErrSignature},
		{"no secret", "", vectorTimestamp, vectorSignature, body, vectorTime, 0, ErrSignature},
		{"body changed", vectorSecret, vectorTimestamp, vectorSignature, []byte(vectorBody + " "), vectorTime, 0, ErrSignature},
		{"timestamp changed", vectorSecret, "1700000001", vectorSignature, body, vectorTime, 0, ErrSignature},
		{"no prefix", vectorSecret, vectorTimestamp, vectorSignature[7:], body, vectorTime, 0, ErrSignature},
		{"other algorithm", vectorSecret, vectorTimestamp, "sha1=" + vectorSignature[7:], body, vectorTime, 0, ErrSignature},
		{"not hex", vectorSecret, vectorTimestamp, "sha256=zz", body, vectorTime, 0, ErrSignature},
		{"truncated", vectorSecret, vectorTimestamp, vectorSignature[:len(vectorSignature)-2], body, vectorTime, 0, ErrSignature},
		{"no signature", vectorSecret, vectorTimestamp, "", body, vectorTime, 0, ErrSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(tt.secret, tt.timestamp, tt.signature, tt.body, tt.now, tt.tolerance)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestSignVerifyRoundTrip: what Sign makes, Verify accepts, for any body
// and clock, and for no other body.
func TestSignVerifyRoundTrip(t *testing.T) {
	for i, body := range [][]byte{nil, []byte("{}"), []byte(strings.Repeat("告警", 10000))} {
		now := vectorTime.Add(time.Duration(i) * 7919 * time.Second)
		ts, sig := Sign(testSecret, now, body)
		if ts != strconv.FormatInt(now.Unix(), 10) {
			t.Errorf("timestamp %s, want %d", ts, now.Unix())
		}
		if err := Verify(testSecret, ts, sig, body, now.Add(time.Minute), 0); err != nil {
			t.Errorf("body %d: %v", i, err)
		}
		if err := Verify(testSecret, ts, sig, append(body, '\n'), now, 0); !errors.Is(err, ErrSignature) {
			t.Errorf("body %d with a newline more: %v, want ErrSignature", i, err)
		}
	}
}
