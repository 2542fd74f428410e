package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/tocsinhq/tocsin/internal/notify/notifytest"
	"github.com/tocsinhq/tocsin/internal/storm"
)

// runBench runs `tocsin bench storm`: it starts a local DingTalk-compatible
// robot (the tests' fake, on the real clock, 20 messages per minute then a
// ban), makes a channel for it on the Tocsin at --url, points the default
// policy at that channel for the storm's length, fires the storm through
// POST /api/v2/alerts and reports what the robot accepted. The Tocsin must
// allow the robot's host (--allow-hosts 127.0.0.1).
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "storm" {
		return usageError("usage: tocsin bench storm --url http://127.0.0.1:9393 --token ADMIN_TOKEN [flags]")
	}
	fs := flag.NewFlagSet("tocsin bench storm", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		base    = fs.String("url", "http://127.0.0.1:9393", "the running Tocsin")
		token   = fs.String("token", "", "its admin token")
		alerts  = fs.Int("alerts", 2000, "distinct alerts in the storm")
		names   = fs.Int("names", 50, "alertnames they spread over")
		over    = fs.Duration("over", time.Minute, "how long the storm lasts")
		batch   = fs.Int("batch", 100, "alerts per request")
		senders = fs.Int("senders", 4, "concurrent senders")
		wait    = fs.Duration("wait", 5*time.Minute, "how long to wait for every alert to reach the robot")
		listen  = fs.String("fake-listen", "127.0.0.1:0", "where the robot listens")
	)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &ExitError{Code: exitUsage, Err: err}
	}
	if *token == "" {
		return usageError("tocsin bench storm needs --token: the admin token of the Tocsin at --url")
	}
	const robotToken, robotSecret = "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0", "SECbench0123456789abcdef0123456789abcdef0123456789abcdef01234567"
	fake := notifytest.NewDingTalk(notifytest.DingTalkOptions{})
	fake.AddRobot(robotToken, notifytest.RobotConfig{Secret: robotSecret, Keywords: []string{"alert"}})
	srv, err := notifytest.Serve(fake, *listen)
	if err != nil {
		return err
	}
	defer srv.Close()
	client := &http.Client{Timeout: 30 * time.Second}
	api := benchAPI{base: strings.TrimSuffix(*base, "/"), token: *token, client: client}
	run := time.Now().UTC().Format("150405")
	var ch struct{ ID string }
	if err := api.do(ctx, "POST", "/api/v1/channels", map[string]any{
		"name": "bench-storm-" + run, "kind": "dingtalk_robot",
		"settings": map[string]any{"webhook_url": fake.WebhookURL(srv.URL, robotToken), "secret": robotSecret, "keywords": []string{"alert"}},
	}, &ch); err != nil {
		return fmt.Errorf("create the robot's channel (is tocsin started with --allow-hosts %s?): %w", strings.TrimPrefix(srv.URL, "http://"), err)
	}
	defer api.do(context.WithoutCancel(ctx), "DELETE", "/api/v1/channels/"+ch.ID, nil, nil)
	var policy map[string]any
	if err := api.do(ctx, "GET", "/api/v1/policies/default", nil, &policy); err != nil {
		return fmt.Errorf("read the default policy: %w", err)
	}
	storming := map[string]any{}
	for k, v := range policy {
		storming[k] = v
	}
	storming["targets"] = map[string]any{"channels": []string{ch.ID}, "contact_groups": []string{}}
	delete(storming, "id")
	if err := api.do(ctx, "PUT", "/api/v1/policies/default", storming, nil); err != nil {
		return fmt.Errorf("point the default policy at the robot: %w", err)
	}
	restore := map[string]any{}
	for k, v := range policy {
		if k != "id" {
			restore[k] = v
		}
	}
	defer api.do(context.WithoutCancel(ctx), "PUT", "/api/v1/policies/default", restore, nil)

	p := storm.Plan{Alerts: *alerts, Names: *names, Over: *over, Batch: *batch, Senders: *senders, Run: "bench" + run}
	fmt.Fprintf(stdout, "storm: %d alerts over %d alertnames in %v, robot at %s; waiting up to %v\n", p.Alerts, p.Names, p.Over, srv.URL, *wait)
	start := time.Now()
	if _, err := storm.Fire(ctx, client, api.base, api.token, p); err != nil {
		return fmt.Errorf("fire the storm: %w", err)
	}
	fmt.Fprintf(stdout, "storm sent in %v\n", time.Since(start).Round(time.Millisecond))
	deadline := time.Now().Add(*wait)
	var rep storm.Report
	for {
		rep = robotReport(fake, robotToken, p)
		if rep.Delivered == p.Alerts || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(time.Second)
	}
	fmt.Fprint(stdout, rep)
	if rep.Delivered != p.Alerts || rep.Refusals > 0 || rep.MaxInWindow > 20 {
		return &ExitError{Code: 1, Err: errors.New("the storm was not delivered within the robot's limits")}
	}
	return nil
}

// robotReport analyses what the robot accepted of a storm.
func robotReport(fake *notifytest.DingTalk, token string, p storm.Plan) storm.Report {
	var msgs []storm.Message
	for _, m := range fake.Accepted(token) {
		msgs = append(msgs, storm.Message{At: m.At, Text: m.Title + "\n" + m.Text})
	}
	refusals, dups := 0, 0
	for _, a := range fake.Attempts(token) {
		switch {
		case a.Duplicate:
			dups++
		case a.ErrCode != 0 || a.Status != http.StatusOK:
			refusals++
		}
	}
	return storm.Analyze(p, msgs, refusals, dups, time.Minute)
}

// benchAPI calls Tocsin's API with the admin token.
type benchAPI struct {
	base, token string
	client      *http.Client
}

func (a benchAPI) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		js, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(data))
	}
	if out != nil && len(data) > 0 {
		return json.Unmarshal(data, out)
	}
	return nil
}
