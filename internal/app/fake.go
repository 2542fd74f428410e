package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tocsinhq/tocsin/internal/notify/notifytest"
)

// runFake runs a local DingTalk-compatible robot server: the same fake the
// tests use, with one robot, printing every request's verdict. It lets a
// new user try Tocsin end to end without a DingTalk group.
func runFake(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "dingtalk" {
		return usageError("usage: tocsin fake dingtalk [--listen 127.0.0.1:9999] [--token T] [--secret SEC…] [--keyword K]")
	}
	fs := flag.NewFlagSet("tocsin fake dingtalk", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		listen   = fs.String("listen", "127.0.0.1:9999", "address to listen on (keep it on loopback)")
		token    = fs.String("token", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "the robot's access_token")
		secretV  = fs.String("secret", "", "signing secret (SEC…); empty: the robot does not check signatures")
		limit    = fs.Int("limit", 20, "messages per rolling minute before a 10-minute ban")
		keywords listFlag
	)
	fs.Var(&keywords, "keyword", "security keyword the robot requires (repeatable)")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &ExitError{Code: exitUsage, Err: err}
	}
	fake := notifytest.NewDingTalk(notifytest.DingTalkOptions{Limit: *limit})
	fake.AddRobot(*token, notifytest.RobotConfig{Secret: *secretV, Keywords: keywords})

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "Fake DingTalk robot listening on %s\nWebhook URL: %s\n", base, fake.WebhookURL(base, *token))
	if *secretV != "" {
		fmt.Fprintf(stdout, "Signing secret: %s\n", *secretV)
	}
	if len(keywords) > 0 {
		fmt.Fprintf(stdout, "Keywords: %s\n", strings.Join(keywords, ", "))
	}

	var mu sync.Mutex // serialises printing so lines from concurrent requests do not interleave
	var attempted, accepted int
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fake.ServeHTTP(w, r)
		mu.Lock()
		defer mu.Unlock()
		attempts, msgs := fake.Attempts(*token), fake.Accepted(*token)
		for _, a := range attempts[min(attempted, len(attempts)):] {
			if a.ErrCode != 0 || a.Status != http.StatusOK {
				fmt.Fprintf(stdout, "%s refused: HTTP %d, errcode %d %s\n", a.At.Format(time.TimeOnly), a.Status, a.ErrCode, a.ErrMsg)
			}
		}
		for _, m := range msgs[min(accepted, len(msgs)):] {
			fmt.Fprintf(stdout, "%s accepted %s %q\n%s\n\n", m.At.Format(time.TimeOnly), m.MsgType, m.Title, indent(m.Text))
		}
		attempted, accepted = len(attempts), len(msgs)
	})
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }() // owned here: shut down and awaited below
	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = hs.Shutdown(shutCtx)
	<-errc
	return nil
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n    ")
}
