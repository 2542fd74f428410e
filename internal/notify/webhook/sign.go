package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Header names Tocsin sets on every webhook request (see the package doc).
const (
	HeaderMessageID = "X-Tocsin-Message-Id"
	HeaderTimestamp = "X-Tocsin-Timestamp"
	HeaderSignature = "X-Tocsin-Signature"
)

// signaturePrefix names the algorithm, so that another can be added
// without breaking receivers that check it.
const signaturePrefix = "sha256="

// DefaultTolerance is how far a signed request's timestamp may be from the
// receiver's clock when Verify is given no tolerance: wide enough for
// clock drift and a slow network, narrow enough to limit replays.
const DefaultTolerance = 5 * time.Minute

// Sign returns the X-Tocsin-Timestamp and X-Tocsin-Signature header values
// for body signed with secret at now. Sign per request: the timestamp is
// part of what is signed, and receivers refuse old ones.
func Sign(secret string, now time.Time, body []byte) (timestamp, signature string) {
	timestamp = strconv.FormatInt(now.Unix(), 10)
	return timestamp, signaturePrefix + hex.EncodeToString(mac(secret, timestamp, body))
}

func mac(secret, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Errors Verify wraps, so a receiver can tell a forged request from a
// stale one (a clock to fix) with errors.Is.
var (
	ErrSignature = errors.New("webhook signature does not verify")
	ErrTimestamp = errors.New("webhook timestamp is not acceptable")
)

// Verify checks a request Tocsin signed: timestamp and signature are the
// X-Tocsin-Timestamp and X-Tocsin-Signature headers, body the request body
// exactly as received. It refuses a timestamp more than tolerance away
// from now, either way (DefaultTolerance when tolerance is zero or less),
// with an error wrapping ErrTimestamp, and a signature that is missing,
// malformed or made with another secret or body with one wrapping
// ErrSignature. An empty secret verifies nothing and is refused.
//
// Verify is written for receivers and tests; Tocsin itself only signs.
func Verify(secret, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	if secret == "" {
		return fmt.Errorf("%w: no secret to verify with", ErrSignature)
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %q is not Unix seconds", ErrTimestamp, timestamp)
	}
	// Compared as a window around now, in seconds, so that no timestamp,
	// however far off, overflows the arithmetic.
	tol := int64(tolerance / time.Second)
	if sec < now.Unix()-tol || sec > now.Unix()+tol {
		return fmt.Errorf("%w: %s is more than %v from now (%s)", ErrTimestamp, timestamp, tolerance, now.UTC().Format(time.RFC3339))
	}
	hexSig, ok := strings.CutPrefix(signature, signaturePrefix)
	if !ok {
		return fmt.Errorf("%w: want %q followed by hex", ErrSignature, signaturePrefix)
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return fmt.Errorf("%w: not hex", ErrSignature)
	}
	if !hmac.Equal(got, mac(secret, timestamp, body)) {
		return ErrSignature
	}
	return nil
}
