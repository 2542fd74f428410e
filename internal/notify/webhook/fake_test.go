package webhook

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tocsinhq/tocsin/internal/notify"
	"github.com/tocsinhq/tocsin/internal/notify/notifytest"
	"github.com/tocsinhq/tocsin/internal/secret"
)

// startFake starts the recording receiver of notifytest, which verifies
// signatures with its own code, and returns a target pointing at it.
func startFake(t *testing.T, opts notifytest.WebhookOptions) (*notifytest.Webhook, Target) {
	t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return testNow }
	}
	f, srv, err := notifytest.StartWebhook(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	target := testTarget()
	target.URL = secret.NewURL(srv.URL + "/hooks/sre?token=" + testToken)
	target.Secret = secret.New(testSecret)
	return f, target
}

// TestSendToFake: a signed message reaches a receiver that verifies it,
// reads as the notification it is, and carries the message ID.
func TestSendToFake(t *testing.T) {
	f, target := startFake(t, notifytest.WebhookOptions{Secret: testSecret})
	for _, msg := range []notify.Message{firingMessage(), testMessage()} {
		if err := newClient().Send(t.Context(), target, msg); err != nil {
			t.Fatal(err)
		}
	}
	got := f.Received()
	if len(got) != 2 {
		t.Fatalf("%d received, want 2 (%+v)", len(got), f.Attempts())
	}
	var summary []string
	for _, r := range got {
		n := r.Notification
		summary = append(summary, fmt.Sprintf("%s %s %s %s %q %d alerts, verified %v",
			r.MessageID, n.Status, n.Receiver, n.Tocsin.ID, n.Tocsin.Title, len(n.Alerts), r.Verified))
	}
	want := []string{
		`d41d8cd9 firing sre-oncall d41d8cd9 "[FIRING:1] HighCPU" 2 alerts, verified true`,
		`test-7f3a firing sre-oncall test-7f3a "Tocsin test message" 0 alerts, verified true`,
	}
	if diff := cmp.Diff(want, summary); diff != "" {
		t.Errorf("received (-want +got):\n%s", diff)
	}
	if a := got[0].Notification.Alerts; a[0].Labels["instance"] != "web-1" || a[1].Status != "resolved" || a[0].Fingerprint != firingMessage().Alerts[0].Fingerprint.String() {
		t.Errorf("alerts %+v", a)
	}
	if got[0].Target != "/hooks/sre?token="+testToken || got[0].Header.Get("User-Agent") != "Tocsin" {
		t.Errorf("request %s with User-Agent %q", got[0].Target, got[0].Header.Get("User-Agent"))
	}
}

// TestSendToFakeRefusals: the fake's refusals and faults come back
// classified, and a retry of the same message carries the same ID.
func TestSendToFakeRefusals(t *testing.T) {
	tests := []struct {
		name       string
		opts       notifytest.WebhookOptions
		fault      *notifytest.WebhookFault
		secret     string // the target's, when not testSecret
		action     notify.Action
		code       string
		retryAfter time.Duration
		answer     string
	}{
		{name: "wrong secret", opts: notifytest.WebhookOptions{Secret: "the receiver's"}, action: notify.Permanent, code: "unauthorized", answer: "signature does not verify"},
		{name: "clock far off", opts: notifytest.WebhookOptions{Secret: testSecret, Now: func() time.Time { return testNow.Add(time.Hour) }},
			action: notify.Permanent, code: "unauthorized", answer: "timestamp 1787275800 is more than 5m0s from the receiver's clock"},
		{name: "unsigned", opts: notifytest.WebhookOptions{Secret: testSecret}, secret: "-", action: notify.Permanent, code: "unauthorized",
			answer: "request not signed: X-Tocsin-Timestamp and X-Tocsin-Signature are required"},
		{name: "body limit", opts: notifytest.WebhookOptions{MaxBody: 100}, action: notify.Shrink, code: "message-too-long", answer: "body over 100 bytes"},
		{name: "503", fault: &notifytest.WebhookFault{RetryAfter: "7"}, action: notify.Retry, code: "server-error", retryAfter: 7 * time.Second, answer: "Service Unavailable"},
		{name: "429 date", fault: &notifytest.WebhookFault{Status: 429, RetryAfter: testNow.Add(time.Minute).Format(http.TimeFormat)},
			action: notify.Retry, code: "rate-limited", retryAfter: time.Minute, answer: "Too Many Requests"},
		{name: "422", fault: &notifytest.WebhookFault{Status: 422, Body: "no such team"}, action: notify.Permanent, code: "rejected", answer: "no such team"},
		{name: "drop", fault: &notifytest.WebhookFault{Drop: true}, action: notify.Retry, code: "network"},
		{name: "hang", fault: &notifytest.WebhookFault{Hang: true}, action: notify.Retry, code: "timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, target := startFake(t, tt.opts)
			switch tt.secret {
			case "":
			case "-":
				target.Secret = secret.String{}
			default:
				target.Secret = secret.New(tt.secret)
			}
			if tt.fault != nil {
				f.FailNext(1, *tt.fault)
			}
			c := newClient()
			if tt.fault != nil && tt.fault.Hang {
				c.Timeout = 200 * time.Millisecond // what the fault waits for
			}
			err := c.Send(t.Context(), target, firingMessage())
			e := notify.AsError(err)
			if e == nil || e.Action != tt.action || e.Code != tt.code || e.RetryAfter != tt.retryAfter || e.PlatformMessage != tt.answer {
				t.Fatalf("err = %+v, want %s %s after %v answering %q", e, tt.action, tt.code, tt.retryAfter, tt.answer)
			}
			if tt.fault == nil {
				return
			}
			// The fault was one-off: the retry goes through, as the
			// same message.
			if err := c.Send(t.Context(), target, firingMessage()); err != nil {
				t.Fatalf("retry: %v", err)
			}
			a := f.Attempts()
			if len(a) != 2 || a[0].MessageID != "d41d8cd9" || a[1].MessageID != a[0].MessageID || len(f.Received()) != 1 {
				t.Errorf("attempts %+v, want two of one message, the second received", a)
			}
		})
	}
}
