package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/tocsinhq/tocsin/internal/channel"
	"github.com/tocsinhq/tocsin/internal/notify"
	"github.com/tocsinhq/tocsin/internal/notify/dingtalk"
	"github.com/tocsinhq/tocsin/internal/secret"
)

// listFlag collects a repeatable or comma-separated flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

// runSend sends one message to a DingTalk robot and reports the verdict;
// the exit status says it to scripts: 0 sent, 1 refused (fix something),
// 3 failed for now (try again later), 2 bad command line.
func runSend(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tocsin send", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: tocsin send --webhook URL [--secret SEC…] [--keyword K] [flags] TEXT   (TEXT - reads standard input)")
		fs.PrintDefaults()
	}
	var (
		webhook  = fs.String("webhook", "", "robot webhook URL, or its bare access_token (env TOCSIN_WEBHOOK)")
		secretV  = fs.String("secret", "", "signing secret SEC… when the robot signs (env TOCSIN_SECRET)")
		title    = fs.String("title", "Tocsin", "message title (the notification preview)")
		msgType  = fs.String("msg-type", "markdown", "markdown, actionCard or text")
		atAll    = fs.Bool("at-all", false, "mention everyone in the group")
		base     = fs.String("dingtalk-robot-base-url", "https://oapi.dingtalk.com", "base URL a bare access token expands to")
		timeout  = fs.Duration("timeout", 10*time.Second, "how long to wait for DingTalk")
		keywords listFlag
		mobiles  listFlag
		userIDs  listFlag
	)
	fs.Var(&keywords, "keyword", "the robot's security keyword (repeatable)")
	fs.Var(&mobiles, "at-mobile", "mobile number to mention (repeatable)")
	fs.Var(&userIDs, "at-user-id", "DingTalk user ID to mention (repeatable)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &ExitError{Code: exitUsage, Err: err}
	}
	if *webhook == "" {
		*webhook = getenv("TOCSIN_WEBHOOK")
	}
	if *secretV == "" {
		*secretV = getenv("TOCSIN_SECRET")
	}
	if fs.NArg() != 1 {
		return usageError("give the message text as one argument (quote it), or - to read it from standard input")
	}
	text := fs.Arg(0)
	if text == "-" {
		b, err := io.ReadAll(io.LimitReader(stdin, 1<<20))
		if err != nil {
			return fmt.Errorf("read standard input: %w", err)
		}
		text = string(b)
	}
	baseURL, err := url.Parse(*base)
	if err != nil {
		return usageError("--dingtalk-robot-base-url: %v", err)
	}
	// Validate as a channel would be, so the CLI accepts the same inputs
	// (a bare token, a URL copied with extra parameters). The operator runs
	// this command, so any host is allowed.
	allowAll := channel.AnyHost()
	set := &channel.DingTalkRobot{WebhookURL: secret.NewURL(*webhook), Secret: secret.New(*secretV), Keywords: keywords,
		AtMobiles: mobiles, AtUserIDs: userIDs, AtAll: *atAll, MsgType: *msgType}
	if err := channel.ValidateSettings(set, channel.Env{DingTalkRobotBase: baseURL, Allow: allowAll}); err != nil {
		return usageError("%v", err)
	}
	// The operator runs this by hand: any address may be dialled.
	client := &dingtalk.Client{HTTP: notify.NewHTTPClient(*timeout, nil), Now: time.Now, Timeout: *timeout}
	rcpt, err := client.Send(ctx, dingTalkRobot(set), notify.Message{Title: *title, Text: text})
	if err != nil {
		ne := notify.AsError(err)
		fmt.Fprintf(stdout, "refused: %s\n", ne.Code)
		if ne.PlatformCode != 0 {
			fmt.Fprintf(stdout, "platform: errcode %d: %s\n", ne.PlatformCode, ne.PlatformMessage)
		}
		fmt.Fprintf(stdout, "why: %s\n", ne.Message)
		if ne.Hint != "" {
			fmt.Fprintf(stdout, "fix: %s\n", ne.Hint)
		}
		code := exitFailure
		if ne.Action == notify.Retry {
			code = exitTemporary
		}
		return &ExitError{Code: code, Err: fmt.Errorf("DingTalk did not accept the message (%s)", ne.Code)}
	}
	fmt.Fprintf(stdout, "sent: DingTalk accepted %d message(s)\n", rcpt.Sent)
	for _, n := range rcpt.Notes {
		fmt.Fprintf(stdout, "note: %s\n", n)
	}
	return nil
}
