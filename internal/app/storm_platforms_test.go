package app

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tocsinhq/tocsin/internal/notify/notifytest"
	"github.com/tocsinhq/tocsin/internal/storm"
)

// platformLimit is one of a platform's rate limits, at its own clock.
type platformLimit struct {
	messages int
	per      time.Duration
}

// platformStorm is the storm of issue 3 against one platform's fake robot,
// at timeScale times speed: what the robot accepted and refused, and the
// limits it must never have had to enforce.
type platformStorm struct {
	// channel is the channel to create: its name, kind and settings, the
	// budget among them scaled like the clock.
	channel  map[string]any
	accepted func() []storm.Message
	attempts func() []notifytest.Attempt
	limits   []platformLimit
	hosts    string
}

// runPlatformStorm fires 2,000 alerts across 50 alertnames within a
// (scaled) minute at a Tocsin whose default policy sends to the channel,
// and checks the platform's acceptance: zero refusals, every alert
// delivered, never more messages in a window than the platform allows,
// the last alert within 3 minutes of the first.
func runPlatformStorm(t *testing.T, ps platformStorm) {
	tc := startTocsin(t, t.TempDir(), "--admin-token", testAdminToken, "--allow-hosts", ps.hosts, "--public-url", "https://tocsin.example.com")
	code, ch := call(t, "POST", tc.base+"/api/v1/channels", testAdminToken, ps.channel)
	if code != http.StatusCreated {
		t.Fatalf("create channel: %d %v", code, ch)
	}
	code, pol := call(t, "PUT", tc.base+"/api/v1/policies/default", testAdminToken, map[string]any{
		"name": "default", "position": 1000, "targets": map[string]any{"channels": []string{ch["id"].(string)}},
		"group_by": []string{"alertname"}, "group_wait": "3s", "group_interval": "6s", "repeat_interval": "4h",
	})
	if code != http.StatusOK {
		t.Fatalf("update default policy: %d %v", code, pol)
	}
	p := storm.Plan{Alerts: 2000, Names: 50, Over: time.Minute / timeScale, Batch: 100, Senders: 4, Run: "s1"}
	if _, err := storm.Fire(context.Background(), http.DefaultClient, tc.base, testAdminToken, p); err != nil {
		t.Fatal(err)
	}
	report := func(window time.Duration) storm.Report {
		refusals := 0
		for _, a := range ps.attempts() {
			if a.ErrCode != 0 || a.Status != http.StatusOK {
				refusals++
			}
		}
		return storm.Analyze(p, ps.accepted(), refusals, 0, window)
	}
	deadline := time.Now().Add(30 * time.Second)
	rep := report(time.Minute)
	for rep.Delivered != p.Alerts && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		rep = report(time.Minute)
	}
	t.Logf("storm report (robot clock, %dx):\n%s", timeScale, rep)
	if rep.Delivered != rep.Alerts {
		t.Errorf("%d of %d alerts reached the robot; missing %v", rep.Delivered, rep.Alerts, rep.Missing)
	}
	if rep.Refusals != 0 {
		t.Errorf("the robot refused %d requests; the budget must keep it from ever refusing", rep.Refusals)
	}
	for _, l := range ps.limits {
		if n := report(l.per).MaxInWindow; n > l.messages {
			t.Errorf("%d messages within %v of the robot's clock; at most %d allowed", n, l.per, l.messages)
		}
	}
	if d := rep.Last.Sub(rep.First); d > 3*time.Minute {
		t.Errorf("the last alert arrived %v after the first (robot clock); want within 3 minutes", d)
	}
	if rep.Repeated != 0 {
		t.Errorf("%d alerts were announced as firing in more than one message", rep.Repeated)
	}
}

// TestStormOnLark is issue 4's storm against a Lark bot that signs and
// checks a keyword: 100 messages a minute and 5 a second at most, its
// minute budget scaled to 100 per 6s. (Lark's per-second limit is Tocsin's
// own and is not scaled: it is only stricter so.)
func TestStormOnLark(t *testing.T) {
	if testing.Short() {
		t.Skip("a storm takes about 20 seconds")
	}
	clock := scaledClock{start: time.Now()}
	fake, srv, err := notifytest.StartLark(notifytest.LarkOptions{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	const token, larkSecret = "5e0b7a2f-1c3d-4e5f-8a9b-0c1d2e3f4a5b", "lark-storm-secret"
	fake.AddBot(token, notifytest.LarkBotConfig{Secret: larkSecret, Keywords: []string{"alert"}})
	runPlatformStorm(t, platformStorm{
		channel: map[string]any{"name": "storm-lark", "kind": "lark_robot", "settings": map[string]any{
			"webhook_url": fake.WebhookURL(srv.URL, token), "secret": larkSecret, "keywords": []string{"alert"},
			"budget": map[string]any{"messages": 100, "per": "6s"}}},
		accepted: func() []storm.Message {
			var out []storm.Message
			for _, m := range fake.Accepted(token) {
				out = append(out, storm.Message{At: m.At, Text: m.Title + "\n" + m.Text})
			}
			return out
		},
		attempts: func() []notifytest.Attempt { return fake.Attempts(token) },
		limits:   []platformLimit{{100, time.Minute}, {5, time.Second}},
		hosts:    strings.TrimPrefix(srv.URL, "http://"),
	})
}

// TestStormOnWeCom is issue 4's storm against a WeCom group robot: 20
// messages a minute at most, its budget scaled to 20 per 6s.
func TestStormOnWeCom(t *testing.T) {
	if testing.Short() {
		t.Skip("a storm takes about 20 seconds")
	}
	clock := scaledClock{start: time.Now()}
	fake, srv, err := notifytest.StartWeCom(notifytest.WeComOptions{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	const key = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
	fake.AddRobot(key, notifytest.WeComRobotConfig{})
	runPlatformStorm(t, platformStorm{
		channel: map[string]any{"name": "storm-wecom", "kind": "wecom_robot", "settings": map[string]any{
			"webhook_url": fake.WebhookURL(srv.URL, key), "budget": map[string]any{"messages": 20, "per": "6s"}}},
		accepted: func() []storm.Message {
			var out []storm.Message
			for _, m := range fake.Accepted(key) {
				out = append(out, storm.Message{At: m.At, Text: m.Content})
			}
			return out
		},
		attempts: func() []notifytest.Attempt { return fake.Attempts(key) },
		limits:   []platformLimit{{20, time.Minute}},
		hosts:    strings.TrimPrefix(srv.URL, "http://"),
	})
}
