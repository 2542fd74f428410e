// Package storm fires an alert storm at a running Tocsin and checks what a
// DingTalk-compatible robot received: the load behind `tocsin bench storm`
// and the storm tests. It speaks to Tocsin only through its HTTP API.
package storm

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Plan is a storm: Alerts distinct alerts across Names alertnames, sent in
// batches of Batch spread evenly over Over by Senders concurrent senders.
type Plan struct {
	Alerts  int
	Names   int
	Over    time.Duration
	Batch   int
	Senders int
	// Run makes this storm's alerts distinct from any earlier storm's
	// (it is part of every instance label).
	Run string
	// Retry makes a sender whose batch failed send it again (after 100ms)
	// until it is acknowledged, as Prometheus does with an Alertmanager
	// that is down; without it the first failure stops the storm.
	Retry bool
	// Sent, when set, is called after each acknowledged batch with how
	// many batches were acknowledged so far.
	Sent func(batches int)
}

// Instance is the instance label of alert i: what a message must show for
// the alert to count as delivered.
func (p Plan) Instance(i int) string { return fmt.Sprintf("%s-host-%05d", p.Run, i) }

// Alertname is the alertname of alert i.
func (p Plan) Alertname(i int) string { return fmt.Sprintf("StormAlert%03d", i%max(1, p.Names)) }

// alertJSON is alert i in Alertmanager's API v2 form.
func (p Plan) alertJSON(i int, now time.Time) map[string]any {
	sev := "warning"
	if i%4 == 0 {
		sev = "critical"
	}
	return map[string]any{
		"labels": map[string]string{
			"alertname": p.Alertname(i), "instance": p.Instance(i), "severity": sev, "job": "node",
		},
		"annotations": map[string]string{"summary": "disk almost full on " + p.Instance(i)},
		"startsAt":    now.UTC().Format(time.RFC3339Nano),
	}
}

// Fire sends the storm to POST /api/v2/alerts of the Tocsin at base and
// returns when every batch was acknowledged, with the time the first batch
// was sent. A refused batch stops the storm with an error.
func Fire(ctx context.Context, client *http.Client, base, token string, p Plan) (time.Time, error) {
	batch, senders := max(1, p.Batch), max(1, p.Senders)
	batches := (p.Alerts + batch - 1) / batch
	type job struct {
		at   time.Time
		from int
	}
	start := time.Now()
	jobs := make(chan job)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		acked    atomic.Int64
	)
	for range senders {
		wg.Go(func() {
			for j := range jobs {
				if wait := time.Until(j.at); wait > 0 {
					select {
					case <-time.After(wait):
					case <-ctx.Done():
						return
					}
				}
				var alerts []map[string]any
				for i := j.from; i < min(p.Alerts, j.from+batch); i++ {
					alerts = append(alerts, p.alertJSON(i, time.Now()))
				}
				for {
					err := post(ctx, client, base+"/api/v2/alerts", token, alerts)
					if err == nil {
						if p.Sent != nil {
							p.Sent(int(acked.Add(1)))
						}
						break
					}
					if !p.Retry || ctx.Err() != nil {
						mu.Lock()
						firstErr = cmpErr(firstErr, err)
						mu.Unlock()
						break
					}
					select {
					case <-time.After(100 * time.Millisecond):
					case <-ctx.Done():
					}
				}
			}
		})
	}
	for b := range batches {
		at := start
		if batches > 1 {
			at = start.Add(p.Over * time.Duration(b) / time.Duration(batches-1))
		}
		select {
		case jobs <- job{at: at, from: b * batch}:
		case <-ctx.Done():
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return start, firstErr
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func post(ctx context.Context, client *http.Client, url, token string, body any) error {
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: %s: %s", url, resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

// Message is one message the robot accepted, at the robot's clock.
type Message struct {
	At   time.Time
	Text string
}

// Report is what the robot received of a storm.
type Report struct {
	Alerts   int // in the plan
	Messages int // accepted
	// Refusals counts requests the robot refused (rate limits, bans, …);
	// a duplicate msgUuid is not a refusal.
	Refusals int
	// Duplicates counts requests the robot dropped as repeats of an
	// accepted msgUuid.
	Duplicates int
	// MaxInWindow is the most messages accepted within any Window.
	MaxInWindow int
	Window      time.Duration
	// Delivered counts the plan's alerts named in some accepted message;
	// Missing lists (up to 20 of) the others.
	Delivered int
	Missing   []string
	// Repeated counts alerts named as firing in more than one message.
	Repeated int
	// First and Last are when the first and the last of the plan's alerts
	// first appeared in an accepted message (zero when none did).
	First, Last time.Time
}

// Analyze matches accepted messages against the plan.
func Analyze(p Plan, msgs []Message, refusals, duplicates int, window time.Duration) Report {
	r := Report{Alerts: p.Alerts, Messages: len(msgs), Refusals: refusals, Duplicates: duplicates, Window: window}
	slices.SortFunc(msgs, func(a, b Message) int { return a.At.Compare(b.At) })
	for i := range msgs {
		n := 0
		for j := i; j < len(msgs) && msgs[j].At.Sub(msgs[i].At) < window; j++ {
			n++
		}
		r.MaxInWindow = max(r.MaxInWindow, n)
	}
	for i := range p.Alerts {
		inst := p.Instance(i)
		seen := 0
		for _, m := range msgs {
			if containsWord(m.Text, inst) {
				if seen == 0 {
					if r.First.IsZero() || m.At.Before(r.First) {
						r.First = m.At
					}
					if m.At.After(r.Last) {
						r.Last = m.At
					}
				}
				seen++
			}
		}
		switch {
		case seen == 0:
			if len(r.Missing) < 20 {
				r.Missing = append(r.Missing, inst)
			}
		case seen > 1:
			r.Repeated++
			r.Delivered++
		default:
			r.Delivered++
		}
	}
	return r
}

// containsWord reports whether s holds word not followed by another digit
// (host-00012 must not count as host-0001).
func containsWord(s, word string) bool {
	for {
		i := strings.Index(s, word)
		if i < 0 {
			return false
		}
		end := i + len(word)
		if end == len(s) || s[end] < '0' || s[end] > '9' {
			return true
		}
		s = s[end:]
	}
}

// String is the report as the bench command prints it.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "alerts sent:            %d\n", r.Alerts)
	fmt.Fprintf(&b, "alerts delivered:       %d (%d missing)\n", r.Delivered, r.Alerts-r.Delivered)
	fmt.Fprintf(&b, "messages accepted:      %d\n", r.Messages)
	fmt.Fprintf(&b, "most in any %v:      %d\n", r.Window, r.MaxInWindow)
	fmt.Fprintf(&b, "refusals (rate limit…): %d\n", r.Refusals)
	fmt.Fprintf(&b, "msgUuid duplicates:     %d\n", r.Duplicates)
	fmt.Fprintf(&b, "alerts in >1 message:   %d\n", r.Repeated)
	if !r.First.IsZero() {
		fmt.Fprintf(&b, "first to last alert:    %v\n", r.Last.Sub(r.First).Round(time.Millisecond))
	}
	if len(r.Missing) > 0 {
		fmt.Fprintf(&b, "missing (first %d):     %s\n", len(r.Missing), strings.Join(r.Missing, ", "))
	}
	return b.String()
}
