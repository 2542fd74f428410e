package notifytest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// startDingTalk starts a fake with one open robot and closes it at the end
// of the test.
func startDingTalk(t *testing.T, opts DingTalkOptions) (*DingTalk, string) {
	t.Helper()
	f, srv, err := StartDingTalk(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Fatalf("URL = %q, want a 127.0.0.1 address", srv.URL)
	}
	f.AddRobot(testToken, RobotConfig{})
	return f, f.WebhookURL(srv.URL, testToken)
}

// post sends body to url over the network and returns the HTTP status and
// the decoded reply (zero unless the status is 200).
func post(ctx context.Context, client *http.Client, url, body string) (int, dingTalkReply, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return 0, dingTalkReply{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, dingTalkReply{}, err
	}
	defer resp.Body.Close()
	var reply dingTalkReply
	if resp.StatusCode == http.StatusOK {
		err = json.NewDecoder(resp.Body).Decode(&reply)
	} else {
		_, err = io.Copy(io.Discard, resp.Body)
	}
	return resp.StatusCode, reply, err
}

func TestStartDingTalk(t *testing.T) {
	f, url := startDingTalk(t, DingTalkOptions{})
	status, reply, err := post(t.Context(), http.DefaultClient, url, okText)
	if err != nil || status != 200 || reply != (dingTalkReply{0, "ok"}) {
		t.Fatalf("post = %d %+v %v, want 200 ok", status, reply, err)
	}
	got := f.Accepted(testToken)
	if len(got) != 1 || got[0].Text != "[ALERT] disk full" {
		t.Fatalf("Accepted = %+v, want the one message", got)
	}
	if a := f.Attempts(testToken); len(a) != 1 || a[0].RemoteIP != "127.0.0.1" {
		t.Errorf("Attempts = %+v, want one from 127.0.0.1", a)
	}
}

func TestDingTalkFaults(t *testing.T) {
	f, url := startDingTalk(t, DingTalkOptions{})
	client := &http.Client{Timeout: 5 * time.Second}

	f.FailNext(testToken, 2, Fault{Status: http.StatusBadGateway})
	f.FailNext(testToken, 1, Fault{})
	f.FailNext(testToken, 1, Fault{ErrCode: 430102, ErrMsg: "含有不合适的文本"})
	f.FailNext(testToken, 1, Fault{Drop: true})
	f.FailNext("other", 1, Fault{}) // another token's faults stay with it

	for i, want := range []struct {
		status int
		reply  dingTalkReply
	}{
		{502, dingTalkReply{}},
		{502, dingTalkReply{}},
		{200, dingTalkReply{-1, "系统繁忙"}},
		{200, dingTalkReply{430102, "含有不合适的文本"}},
	} {
		status, reply, err := post(t.Context(), client, url, okText)
		if err != nil || status != want.status || reply != want.reply {
			t.Errorf("request %d: got %d %+v %v, want %d %+v", i, status, reply, err, want.status, want.reply)
		}
	}
	if _, _, err := post(t.Context(), client, url, okText); err == nil {
		t.Error("dropped request: got an answer, want a transport error")
	}
	// Faults used up: the robot works again.
	if status, reply, err := post(t.Context(), client, url, okText); err != nil || status != 200 || reply.ErrCode != 0 {
		t.Errorf("after faults: got %d %+v %v, want 200 ok", status, reply, err)
	}

	if n := len(f.Accepted(testToken)); n != 1 {
		t.Errorf("accepted %d, want 1", n)
	}
	var injected []int
	for _, a := range f.Attempts(testToken) {
		if a.Injected {
			injected = append(injected, a.Status)
		}
	}
	if want := []int{502, 502, 200, 200, 0}; !slices.Equal(injected, want) {
		t.Errorf("injected attempt statuses = %v, want %v", injected, want)
	}
}

func TestDingTalkHangEndsWithClient(t *testing.T) {
	f, url := startDingTalk(t, DingTalkOptions{})
	f.FailNext(testToken, 1, Fault{Hang: true})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, _, err := post(ctx, http.DefaultClient, url, okText)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hung request: err = %v, want deadline exceeded", err)
	}
	// The cleanup's Close returning proves the handler let go.
}

func TestServerCloseEndsHungRequests(t *testing.T) {
	f, srv, err := StartDingTalk(DingTalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f.FailNext(testToken, 1, Fault{Hang: true})
	errc := make(chan error, 1)
	go func() {
		// No timeout: only Close can end this request.
		_, _, err := post(context.Background(), &http.Client{}, f.WebhookURL(srv.URL, testToken), okText)
		errc <- err
	}()
	// Wait until the fake holds the request; polling is the only way to
	// see across the network that it arrived.
	for deadline := time.Now().Add(10 * time.Second); len(f.Attempts(testToken)) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("request never reached the fake")
		}
		time.Sleep(time.Millisecond)
	}
	if err := srv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-errc; err == nil {
		t.Error("hung request got an answer after Close, want a transport error")
	}
}

func TestDingTalkConcurrentSends(t *testing.T) {
	f, url := startDingTalk(t, DingTalkOptions{Now: newClock(vectorTimestamp).Now})
	client := &http.Client{Timeout: 10 * time.Second}
	const senders = 50
	var wg sync.WaitGroup
	codes := make(chan int, senders)
	for range senders {
		wg.Go(func() {
			_, reply, err := post(t.Context(), client, url, okText)
			if err != nil {
				t.Error(err)
				return
			}
			codes <- reply.ErrCode
		})
	}
	wg.Wait()
	close(codes)
	count := map[int]int{}
	for c := range codes {
		count[c]++
	}
	if count[0] != 20 || count[130101] != senders-20 {
		t.Errorf("answers by errcode = %v, want 20 ok and %d rate-limited", count, senders-20)
	}
	if n := len(f.Accepted(testToken)); n != 20 {
		t.Errorf("accepted %d, want 20", n)
	}
}
