package webhook_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/tocsinhq/tocsin/internal/notify/webhook"
)

// A receiver checks each request before it trusts the body: the
// signature over the raw body, then the age of the timestamp.
func ExampleVerify() {
	const secret = "the channel's secret"
	receiver := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, webhook.MaxBodyBytes))
		if err != nil {
			http.Error(w, "cannot read the body", http.StatusBadRequest)
			return
		}
		err = webhook.Verify(secret, r.Header.Get(webhook.HeaderTimestamp), r.Header.Get(webhook.HeaderSignature),
			body, time.Now(), webhook.DefaultTolerance)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		// Decode body here; drop a message whose X-Tocsin-Message-Id
		// was seen before: it is a retry.
		w.WriteHeader(http.StatusNoContent)
	})

	body := `{"version":"4","status":"firing","alerts":[]}`
	for _, tc := range []struct {
		name   string
		secret string
		sentAt time.Time
	}{
		{"signed now", secret, time.Now()},
		{"signed an hour ago", secret, time.Now().Add(-time.Hour)},
		{"signed with another secret", "guess", time.Now()},
	} {
		ts, sig := webhook.Sign(tc.secret, tc.sentAt, []byte(body))
		req := httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader(body))
		req.Header.Set(webhook.HeaderTimestamp, ts)
		req.Header.Set(webhook.HeaderSignature, sig)
		rec := httptest.NewRecorder()
		receiver.ServeHTTP(rec, req)
		fmt.Println(tc.name+":", rec.Code)
	}
	// Output:
	// signed now: 204
	// signed an hour ago: 401
	// signed with another secret: 401
}
