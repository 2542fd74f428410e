package dingtalkapp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tocsinhq/tocsin/internal/notify"
	"github.com/tocsinhq/tocsin/internal/notify/notifytest"
	"github.com/tocsinhq/tocsin/internal/secret"
)

const (
	testClientID = "dingq5xk0zxkvbh3fbdt"
	testSecret   = "Zq3p9Xv2LkT8sWm4Nb7Rc1Yd6Hf0Jg5Ue-AoIiPlKjMnBvCxZa_QwErTyUuIoP"
	testGroup    = "cid6KeBBLoveMJOGXoYKF5x7EeiodoA=="
)

// clock is a settable clock, safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 8, 21, 9, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// startFake starts the DingTalk app fake on the clock, with the test app,
// its robot in testGroup, and no users, and returns the App pointing at it.
// wrap, if not nil, stands in front of the fake.
func startFake(t testing.TB, clk *clock, wrap func(http.Handler) http.Handler) (*notifytest.DingTalkApp, App) {
	t.Helper()
	f := notifytest.NewDingTalkApp(notifytest.DingTalkAppOptions{Now: clk.Now})
	f.AddApp(testClientID, testSecret, "")
	f.AddGroup(testGroup, testClientID)
	var h http.Handler = f
	if wrap != nil {
		h = wrap(f)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return f, App{BaseURL: srv.URL, ClientID: testClientID, ClientSecret: secret.New(testSecret)}
}

func newClient(clk *clock) *Client {
	return &Client{HTTP: notify.NewHTTPClient(5*time.Second, nil), Now: clk.Now}
}

func userIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("user%02d", i)
	}
	return ids
}

// calls returns the users of each call the fake answered on path.
func calls(f *notifytest.DingTalkApp, path string) [][]string {
	var out [][]string
	for _, c := range f.Calls() {
		if c.Path == path {
			out = append(out, c.UserIDs)
		}
	}
	return out
}

func wantCode(t *testing.T, err error, action notify.Action, code string) *notify.Error {
	t.Helper()
	var e *notify.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want a *notify.Error %s %s", err, action, code)
	}
	if e.Action != action || e.Code != code {
		t.Fatalf("err = %s %s (%v), want %s %s", e.Action, e.Code, err, action, code)
	}
	return e
}

// TestSendToUsers45: 45 users go out in calls of 20, 20 and 5; the one the
// organisation does not have is refused with its reason, and the
// flow-controlled ones are reported apart, for a retry of just them.
func TestSendToUsers45(t *testing.T) {
	clk := newClock()
	f, app := startFake(t, clk, nil)
	users := userIDs(45)
	f.AddUsers(slices.Delete(slices.Clone(users), 17, 18)...)
	f.SetFlowControlled("user03", "user38")
	msg := alertMessage()
	// Blanks and repeats are not sent.
	rep, err := newClient(clk).SendToUsers(t.Context(), app, append(slices.Clone(users), " ", "user00", ""), msg)
	if err != nil {
		t.Fatal(err)
	}

	got := calls(f, notifytest.DingTalkAppBatchSendPath)
	if diff := cmp.Diff([][]string{users[:20], users[20:40], users[40:]}, got); diff != "" {
		t.Errorf("batchSend calls (-want +got):\n%s", diff)
	}
	if len(rep.Batches) != 3 {
		t.Fatalf("%d batches, want 3", len(rep.Batches))
	}
	for i, b := range rep.Batches {
		if !b.Attempted || b.Err != nil || b.ProcessQueryKey == "" {
			t.Errorf("batch %d: %+v, want accepted with a processQueryKey", i, b)
		}
	}
	if diff := cmp.Diff([]RefusedUser{{"user17", ReasonInvalid}}, rep.Refused()); diff != "" {
		t.Errorf("Refused (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"user03", "user38"}, rep.FlowControlled()); diff != "" {
		t.Errorf("FlowControlled (-want +got):\n%s", diff)
	}
	delivered := slices.DeleteFunc(slices.Clone(users), func(u string) bool { return u == "user17" || u == "user03" || u == "user38" })
	if diff := cmp.Diff(delivered, rep.Delivered()); diff != "" {
		t.Errorf("Delivered (-want +got):\n%s", diff)
	}
	if got := rep.Failed(); len(got) != 0 {
		t.Errorf("Failed = %v, want none", got)
	}

	rd, err := Render(msg)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range delivered {
		m := f.AcceptedByUser(u)
		if len(m) != 1 || m[0].MsgKey != rd.MsgKey || m[0].MsgParam != rd.MsgParam || m[0].RobotCode != testClientID {
			t.Fatalf("%s received %+v, want the rendered message once from the app's robot", u, m)
		}
	}
	for _, u := range []string{"user17", "user03"} {
		if n := len(f.AcceptedByUser(u)); n != 0 {
			t.Errorf("%s received %d messages, want none", u, n)
		}
	}
	if n := f.TokenFetches(testClientID); n != 1 {
		t.Errorf("%d token fetches, want 1", n)
	}
}

// refuseCall answers the nth call to path (from 1) with status and a
// DingTalk error body of code, and passes everything else to the fake.
// count counts the calls to path, the refused one included.
func refuseCall(path string, n int, status int, code string) (wrap func(http.Handler) http.Handler, count *atomic.Int32) {
	count = new(atomic.Int32)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == path && int(count.Add(1)) == n {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(status)
				fmt.Fprintf(w, `{"code":%q,"requestid":"5373616E-A1FB-750A-A30B-53495AC82560","message":"refused"}`, code)
				return
			}
			next.ServeHTTP(w, r)
		})
	}, count
}

// TestSendToUsersStopsOnRateLimit: the call after a rate limit is not
// made; it is reported with the same error, for a retry later.
func TestSendToUsersStopsOnRateLimit(t *testing.T) {
	clk := newClock()
	wrap, count := refuseCall(notifytest.DingTalkAppBatchSendPath, 2, 400, "send.too.fast")
	f, app := startFake(t, clk, wrap)
	users := userIDs(45)
	f.AddUsers(users...)
	rep, err := newClient(clk).SendToUsers(t.Context(), app, users, alertMessage())
	e := wantCode(t, err, notify.Retry, "rate-limited")
	if e.RetryAfter != time.Minute {
		t.Errorf("RetryAfter = %v, want 1m", e.RetryAfter)
	}
	if n := count.Load(); n != 2 {
		t.Errorf("%d batchSend calls, want 2", n)
	}
	b := rep.Batches
	if b[0].Err != nil || !b[1].Attempted || b[1].Err != e || b[2].Attempted || b[2].Err != e {
		t.Errorf("batches %+v, want accepted, rate-limited, not attempted with the same error", b)
	}
	if diff := cmp.Diff(users[20:], rep.Failed()); diff != "" {
		t.Errorf("Failed (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(users[:20], rep.Delivered()); diff != "" {
		t.Errorf("Delivered (-want +got):\n%s", diff)
	}
}

// TestSendToUsersContinuesAfterUserRefusal: a refusal of one call's users
// says nothing of the others', so the next call still goes.
func TestSendToUsersContinuesAfterUserRefusal(t *testing.T) {
	clk := newClock()
	wrap, count := refuseCall(notifytest.DingTalkAppBatchSendPath, 2, 400, "invalidParameter.userIds.invalid")
	f, app := startFake(t, clk, wrap)
	users := userIDs(45)
	f.AddUsers(users...)
	rep, err := newClient(clk).SendToUsers(t.Context(), app, users, alertMessage())
	e := wantCode(t, err, notify.Permanent, "user-ids-invalid")
	if n := count.Load(); n != 3 {
		t.Errorf("%d batchSend calls, want 3", n)
	}
	if b := rep.Batches; b[0].Err != nil || b[1].Err != e || b[2].Err != nil || !b[2].Attempted {
		t.Errorf("batches %+v, want the second alone refused", b)
	}
	if diff := cmp.Diff(append(slices.Clone(users[:20]), users[40:]...), rep.Delivered()); diff != "" {
		t.Errorf("Delivered (-want +got):\n%s", diff)
	}
}

// sendEach sends to each user at once, one goroutine a user, and waits
// for them all.
func sendEach(t *testing.T, c *Client, app App, users []string) {
	t.Helper()
	var wg sync.WaitGroup
	for _, u := range users {
		wg.Go(func() {
			if _, err := c.SendToUsers(t.Context(), app, []string{u}, alertMessage()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

// TestConcurrentSendsFetchOneToken: a hundred sends starting together
// fetch one token between them.
func TestConcurrentSendsFetchOneToken(t *testing.T) {
	clk := newClock()
	f, app := startFake(t, clk, nil)
	users := userIDs(100)
	f.AddUsers(users...)
	c := newClient(clk)
	sendEach(t, c, app, users)
	if n := f.TokenFetches(testClientID); n != 1 {
		t.Errorf("%d token fetches, want 1", n)
	}
	for _, u := range users {
		if n := len(f.AcceptedByUser(u)); n != 1 {
			t.Fatalf("%s received %d messages, want 1", u, n)
		}
	}
}

// handlerTransport serves requests in-process, so that a synctest bubble
// sees every goroutine involved. Like a real transport, it fails a request
// whose context ended, though only once the handler has returned.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	return rec.Result(), nil
}

// TestTokenFetchIsShared holds the one token request until all hundred
// senders wait, so the test does not depend on scheduling: only one
// fetch is ever made, and every sender uses its token.
func TestTokenFetchIsShared(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := notifytest.NewDingTalkApp(notifytest.DingTalkAppOptions{})
		f.AddApp(testClientID, testSecret, "")
		users := userIDs(100)
		f.AddUsers(users...)
		release := make(chan struct{})
		var tokenRequests atomic.Int32
		gate := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == notifytest.DingTalkAppTokenPath {
				tokenRequests.Add(1)
				<-release
			}
			f.ServeHTTP(w, r)
		})
		c := &Client{HTTP: &http.Client{Transport: handlerTransport{gate}}}
		app := App{BaseURL: "http://dingtalk.test", ClientID: testClientID, ClientSecret: secret.New(testSecret)}
		var wg sync.WaitGroup
		for _, u := range users {
			wg.Go(func() {
				if _, err := c.SendToUsers(t.Context(), app, []string{u}, alertMessage()); err != nil {
					t.Error(err)
				}
			})
		}
		synctest.Wait() // one sender in the token request, 99 waiting for it
		if n := tokenRequests.Load(); n != 1 {
			t.Errorf("%d token requests under way, want 1", n)
		}
		close(release)
		wg.Wait()
		if n := f.TokenFetches(testClientID); n != 1 {
			t.Errorf("%d token fetches, want 1", n)
		}
		if n := len(calls(f, notifytest.DingTalkAppBatchSendPath)); n != 100 {
			t.Errorf("%d batchSend calls, want 100", n)
		}
	})
}

// TestTokenFetcherCanceled: when the sender fetching the token gives up,
// a sender waiting for it fetches instead of failing with its
// cancellation.
func TestTokenFetcherCanceled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := notifytest.NewDingTalkApp(notifytest.DingTalkAppOptions{})
		f.AddApp(testClientID, testSecret, "")
		f.AddUsers("u1", "u2")
		var first atomic.Bool
		hold := make(chan struct{})
		gate := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == notifytest.DingTalkAppTokenPath && first.CompareAndSwap(false, true) {
				<-hold // until the first sender's context ends
				http.Error(w, "late", http.StatusServiceUnavailable)
				return
			}
			f.ServeHTTP(w, r)
		})
		c := &Client{HTTP: &http.Client{Transport: handlerTransport{gate}}}
		app := App{BaseURL: "http://dingtalk.test", ClientID: testClientID, ClientSecret: secret.New(testSecret)}

		ctx, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		var err1 error
		wg.Go(func() { _, err1 = c.SendToUsers(ctx, app, []string{"u1"}, alertMessage()) })
		synctest.Wait()
		var err2 error
		wg.Go(func() { _, err2 = c.SendToUsers(t.Context(), app, []string{"u2"}, alertMessage()) })
		synctest.Wait()
		cancel()
		close(hold)
		wg.Wait()
		wantCode(t, err1, notify.Retry, "canceled")
		if err2 != nil {
			t.Errorf("the waiting sender failed: %v", err2)
		}
		if n := f.TokenFetches(testClientID); n != 1 {
			t.Errorf("%d token fetches reached the fake, want 1", n)
		}
	})
}

// TestTokenRefreshedBeforeExpiry: a two-hour token is used for 108
// minutes, then replaced, with no send ever meeting an expired one.
func TestTokenRefreshedBeforeExpiry(t *testing.T) {
	clk := newClock()
	f, app := startFake(t, clk, nil)
	f.AddUsers("u1")
	c := newClient(clk)
	send := func() {
		t.Helper()
		if _, err := c.SendToUsers(t.Context(), app, []string{"u1"}, alertMessage()); err != nil {
			t.Fatal(err)
		}
	}
	send()
	clk.Advance(107 * time.Minute) // 13 minutes left: more than a tenth
	send()
	if n := f.TokenFetches(testClientID); n != 1 {
		t.Fatalf("%d token fetches with 13 minutes left, want 1", n)
	}
	clk.Advance(2 * time.Minute) // 11 minutes left
	send()
	if n := f.TokenFetches(testClientID); n != 2 {
		t.Fatalf("%d token fetches with 11 minutes left, want 2", n)
	}
	// The refetch extended the token; it lasts another 108 minutes.
	clk.Advance(107 * time.Minute)
	send()
	if n := f.TokenFetches(testClientID); n != 2 {
		t.Errorf("%d token fetches, want still 2", n)
	}
	for _, call := range f.Calls() {
		if call.Code != "" {
			t.Errorf("call %+v refused, want none", call)
		}
	}
}

// TestFailedRefreshKeepsValidToken: a refresh that fails while the token
// still works does not fail the send; the next send refreshes.
func TestFailedRefreshKeepsValidToken(t *testing.T) {
	clk := newClock()
	f, app := startFake(t, clk, nil)
	f.AddUsers("u1")
	c := newClient(clk)
	if _, err := c.SendToUsers(t.Context(), app, []string{"u1"}, alertMessage()); err != nil {
		t.Fatal(err)
	}
	clk.Advance(115 * time.Minute)
	f.FailNext(notifytest.DingTalkAppTokenPath, 1, notifytest.DingTalkAppFault{})
	if _, err := c.SendToUsers(t.Context(), app, []string{"u1"}, alertMessage()); err != nil {
		t.Fatalf("send during a failed refresh: %v", err)
	}
	if _, err := c.SendToUsers(t.Context(), app, []string{"u1"}, alertMessage()); err != nil {
		t.Fatal(err)
	}
	if n := f.TokenFetches(testClientID); n != 2 {
		t.Errorf("%d token fetches, want 2 (the faulted one is not counted)", n)
	}
	if n := len(f.AcceptedByUser("u1")); n != 3 {
		t.Errorf("u1 received %d, want 3", n)
	}
}

// TestRefusedTokenRefetchedOnce: a token DingTalk no longer accepts
// (revoked, or expired by DingTalk's clock before ours) is dropped and
// replaced once, and the call made again.
func TestRefusedTokenRefetchedOnce(t *testing.T) {
	tests := []struct {
		name  string
		spoil func(f *notifytest.DingTalkApp, fakeClock *clock)
	}{
		{"revoked", func(f *notifytest.DingTalkApp, _ *clock) { f.RevokeTokens(testClientID) }},
		{"expired", func(_ *notifytest.DingTalkApp, fakeClock *clock) { fakeClock.Advance(3 * time.Hour) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fakeClock, ourClock := newClock(), newClock()
			f, app := startFake(t, fakeClock, nil)
			f.AddUsers("u1")
			f.AddGroup(testGroup, testClientID)
			c := newClient(ourClock)
			if _, err := c.SendToUsers(t.Context(), app, []string{"u1"}, alertMessage()); err != nil {
				t.Fatal(err)
			}
			tt.spoil(f, fakeClock)
			if _, err := c.SendToUsers(t.Context(), app, []string{"u1"}, alertMessage()); err != nil {
				t.Fatalf("send with a refused token: %v", err)
			}
			if n := f.TokenFetches(testClientID); n != 2 {
				t.Errorf("%d token fetches, want 2", n)
			}
			var codes []string
			for _, call := range f.Calls() {
				if call.Path == notifytest.DingTalkAppBatchSendPath {
					codes = append(codes, call.Code)
				}
			}
			if diff := cmp.Diff([]string{"", "InvalidAuthentication", ""}, codes); diff != "" {
				t.Errorf("batchSend answers (-want +got):\n%s", diff)
			}
			if n := len(f.AcceptedByUser("u1")); n != 2 {
				t.Errorf("u1 received %d, want 2", n)
			}
			// The group path recovers the same way.
			f.RevokeTokens(testClientID)
			if _, err := c.SendToGroup(t.Context(), app, testGroup, alertMessage()); err != nil {
				t.Fatalf("group send with a revoked token: %v", err)
			}
		})
	}
}

// TestRevokedTokenConcurrentSenders: a hundred sends that all meet the
// revoked token replace it once between them.
func TestRevokedTokenConcurrentSenders(t *testing.T) {
	clk := newClock()
	f, app := startFake(t, clk, nil)
	users := userIDs(100)
	f.AddUsers(users...)
	c := newClient(clk)
	if _, err := c.SendToUsers(t.Context(), app, users[:1], alertMessage()); err != nil {
		t.Fatal(err)
	}
	f.RevokeTokens(testClientID)
	sendEach(t, c, app, users)
	if n := f.TokenFetches(testClientID); n != 2 {
		t.Errorf("%d token fetches, want 2", n)
	}
}

// TestTokenRefusedTwice: a fresh token refused too is the credentials'
// fault: permanent, after exactly one refetch.
func TestTokenRefusedTwice(t *testing.T) {
	clk := newClock()
	f, app := startFake(t, clk, nil)
	f.AddUsers("u1")
	f.FailNext(notifytest.DingTalkAppBatchSendPath, 2, notifytest.DingTalkAppFault{Code: "InvalidAuthentication", Message: "不合法的access_token"})
	rep, err := newClient(clk).SendToUsers(t.Context(), app, []string{"u1"}, alertMessage())
	e := wantCode(t, err, notify.Permanent, "app-auth-failed")
	if e.Hint == "" || !strings.Contains(e.Error(), "InvalidAuthentication") {
		t.Errorf("error %q (hint %q), want the code and a hint", e, e.Hint)
	}
	if n := f.TokenFetches(testClientID); n != 2 {
		t.Errorf("%d token fetches, want 2", n)
	}
	if n := len(calls(f, notifytest.DingTalkAppBatchSendPath)); n != 2 {
		t.Errorf("%d batchSend calls, want 2", n)
	}
	if rep.Batches[0].Err != e {
		t.Errorf("batch error = %v, want %v", rep.Batches[0].Err, e)
	}
}

// TestWrongSecret: the token endpoint's refusal is permanent and no
// message call is made. A channel with the right Client ID but a wrong
// secret does not borrow the token another channel obtained.
func TestWrongSecret(t *testing.T) {
	clk := newClock()
	f, app := startFake(t, clk, nil)
	f.AddUsers("u1")
	c := newClient(clk)
	if _, err := c.SendToUsers(t.Context(), app, []string{"u1"}, alertMessage()); err != nil {
		t.Fatal(err)
	}
	wrong := app
	wrong.ClientSecret = secret.New("not-the-secret")
	_, err := c.SendToUsers(t.Context(), wrong, []string{"u1"}, alertMessage())
	e := wantCode(t, err, notify.Permanent, "app-auth-failed")
	if !strings.Contains(e.Hint, "Client Secret") || !strings.Contains(e.Error(), "invalidClientIdOrSecret") {
		t.Errorf("error %q, hint %q: want the code and a hint about the secret", e, e.Hint)
	}
	_, err = c.SendToGroup(t.Context(), wrong, testGroup, alertMessage())
	wantCode(t, err, notify.Permanent, "app-auth-failed")
	if n := len(calls(f, notifytest.DingTalkAppBatchSendPath)); n != 1 {
		t.Errorf("%d batchSend calls, want only the right app's", n)
	}
}

func TestSendToGroup(t *testing.T) {
	clk := newClock()
	f, app := startFake(t, clk, nil)
	msg := alertMessage()
	msg.Mentions = notify.Mentions{UserIDs: []string{"manager7675"}, People: []notify.Person{{Name: "Li", DingTalkUserID: "li"}}}
	rc, err := newClient(clk).SendToGroup(t.Context(), app, " "+testGroup+" ", msg)
	if err != nil {
		t.Fatal(err)
	}
	got := f.AcceptedInGroup(testGroup)
	rd, _ := Render(msg)
	if len(got) != 1 || got[0].ProcessQueryKey != rc.ProcessQueryKey || got[0].MsgKey != rd.MsgKey || got[0].MsgParam != rd.MsgParam {
		t.Fatalf("group received %+v, receipt %+v; want the rendered message once", got, rc)
	}
	want := []string{"mentions: DingTalk app robots cannot mention anyone in a group, so 2 people were not notified by name; send to them 1:1 instead"}
	if diff := cmp.Diff(want, rc.Notes); diff != "" {
		t.Errorf("notes (-want +got):\n%s", diff)
	}
}

func TestMentioned(t *testing.T) {
	for _, tt := range []struct {
		m    notify.Mentions
		want string
	}{
		{notify.Mentions{}, ""},
		{notify.Mentions{Mobiles: []string{"13800000000"}}, "1 person was"},
		{notify.Mentions{All: true}, "@all was"},
		{notify.Mentions{All: true, People: []notify.Person{{Name: "a"}}}, "@all and 1 more were"},
	} {
		if got := mentioned(tt.m); got != tt.want {
			t.Errorf("mentioned(%+v) = %q, want %q", tt.m, got, tt.want)
		}
	}
}

func TestSendToGroupRefusals(t *testing.T) {
	clk := newClock()
	f, app := startFake(t, clk, nil)
	f.AddGroup("cidwithoutrobot")
	c := newClient(clk)
	tests := []struct {
		name, cid, code string
	}{
		{"unknown group", "cidnowhere", "conversation-invalid"},
		{"robot not in group", "cidwithoutrobot", "robot-code-invalid"},
		{"no group", " ", "conversation-invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.SendToGroup(t.Context(), app, tt.cid, alertMessage())
			if e := wantCode(t, err, notify.Permanent, tt.code); e.Hint == "" {
				t.Error("no hint")
			}
		})
	}
	if n := len(calls(f, notifytest.DingTalkAppGroupSendPath)); n != 2 {
		t.Errorf("%d group calls, want 2 (none for an empty ID)", n)
	}
}

func TestInvalidSettings(t *testing.T) {
	clk := newClock()
	f, app := startFake(t, clk, nil)
	c := newClient(clk)
	noID, noSecret, badURL := app, app, app
	noID.ClientID = " "
	noSecret.ClientSecret = secret.String{}
	badURL.BaseURL = "ftp://" + testClientID
	for name, a := range map[string]App{"no client ID": noID, "no secret": noSecret, "bad base URL": badURL} {
		t.Run(name, func(t *testing.T) {
			rep, err := c.SendToUsers(t.Context(), a, []string{"u1"}, alertMessage())
			wantCode(t, err, notify.Permanent, "invalid-app")
			if rep.Batches[0].Err == nil || rep.Batches[0].Attempted {
				t.Errorf("batch %+v, want not attempted with the error", rep.Batches[0])
			}
			_, err = c.SendToGroup(t.Context(), a, testGroup, alertMessage())
			wantCode(t, err, notify.Permanent, "invalid-app")
		})
	}
	_, err := c.SendToUsers(t.Context(), app, []string{"", " "}, alertMessage())
	wantCode(t, err, notify.Permanent, "no-recipients")
	rep, err := c.SendToUsers(t.Context(), app, []string{"u1"}, notify.Message{})
	wantCode(t, err, notify.Permanent, "empty-message")
	if rep.Batches[0].Err == nil {
		t.Error("the batch does not carry the error")
	}
	if n := len(f.Calls()); n != 0 {
		t.Errorf("%d calls made, want none", n)
	}
}

// TestClientZeroValue: a zero Client works, with the shared transport and
// the default timeout, and an empty robot code is the client ID.
func TestClientZeroValue(t *testing.T) {
	f, app := startFake(t, newClock(), nil)
	f.AddUsers("u1")
	var c Client
	if c.timeout() != DefaultTimeout || c.client() == http.DefaultClient || c.client().Timeout == 0 {
		t.Errorf("zero Client: timeout %v, client %p with timeout %v", c.timeout(), c.client(), c.client().Timeout)
	}
	// The fake's clock stands still at newClock(); the real one is past it.
	if _, err := c.SendToUsers(t.Context(), app, []string{"u1"}, alertMessage()); err != nil {
		t.Fatal(err)
	}
	if app.BaseURL = ""; app.baseURL() != DefaultBaseURL {
		t.Errorf("base URL = %q, want %q", app.baseURL(), DefaultBaseURL)
	}
}

// answer is a canned reply of the test server.
type answer struct {
	status int
	body   string
	header []string // name, value, …
}

func (a answer) write(w http.ResponseWriter) {
	for i := 0; i+1 < len(a.header); i += 2 {
		w.Header().Set(a.header[i], a.header[i+1])
	}
	w.WriteHeader(a.status)
	fmt.Fprint(w, a.body)
}

var okToken = answer{200, `{"accessToken":"0f1e2d3c4b5a69788796a5b4c3d2e1f0","expireIn":7200}`, nil}

// cannedServer answers token requests with tokenAnswer and message calls
// with sendAnswer.
func cannedServer(t *testing.T, tokenAnswer, sendAnswer answer) App {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == tokenPath {
			tokenAnswer.write(w)
			return
		}
		sendAnswer.write(w)
	}))
	t.Cleanup(srv.Close)
	return App{BaseURL: srv.URL, ClientID: testClientID, ClientSecret: secret.New(testSecret)}
}

// TestAnswers maps the message endpoints' (status, body) to what to do.
func TestAnswers(t *testing.T) {
	coded := func(status int, code string, header ...string) answer {
		return answer{status, fmt.Sprintf(`{"code":%q,"requestid":"30EE8654-1AA2-7D88-8248-9518547248AA","message":"说明"}`, code), header}
	}
	tests := []struct {
		name       string
		send       answer
		action     notify.Action // 0: success
		code       string
		retryAfter time.Duration
	}{
		{"200 full", answer{200, `{"processQueryKey":"k","invalidStaffIdList":[],"flowControlledStaffIdList":[]}`, nil}, 0, "", 0},
		{"200 empty object", answer{200, `{}`, nil}, 0, "", 0},
		{"200 html", answer{200, `<html>portal</html>`, nil}, notify.Retry, "unexpected-response", 0},
		{"200 null", answer{200, `null`, nil}, notify.Retry, "unexpected-response", 0},
		{"200 wrong types", answer{200, `{"processQueryKey":7}`, nil}, notify.Retry, "unexpected-response", 0},
		{"400 InvalidAuthentication", coded(400, "InvalidAuthentication"), notify.Permanent, "app-auth-failed", 0},
		{"401 bare", answer{401, ``, nil}, notify.Permanent, "app-auth-failed", 0},
		{"400 robotCode.auth", coded(400, "invalidParameter.robotCode.auth"), notify.Permanent, "robot-code-invalid", 0},
		{"400 robotCode.notExist", coded(400, "invalidParameter.robotCode.notExist"), notify.Permanent, "robot-code-invalid", 0},
		{"400 userIds.overMax", coded(400, "invalidParameter.userIds.overMax"), notify.Permanent, "user-ids-invalid", 0},
		{"400 msgKey.invalid", coded(400, "invalidParameter.msgKey.invalid"), notify.Permanent, "bad-request", 0},
		{"400 msgParam.invalid", coded(400, "invalidParameter.msgParam.invalid"), notify.Permanent, "bad-request", 0},
		{"400 openConversationId", coded(400, "invalid.openConversationId"), notify.Permanent, "conversation-invalid", 0},
		{"400 bot.stopped", coded(400, "bot.stopped"), notify.Permanent, "robot-disabled", 0},
		{"400 send.too.fast", coded(400, "send.too.fast"), notify.Retry, "rate-limited", time.Minute},
		{"400 too.many.people with Retry-After", coded(400, "too.many.people", "Retry-After", "90"), notify.Retry, "rate-limited", 90 * time.Second},
		{"403 QPS", coded(403, "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi"), notify.Retry, "rate-limited", 2 * time.Second},
		{"403 IP allowlist", coded(403, "Forbidden.AccessDenied.IpNotInWhiteList"), notify.Permanent, "permission-denied", 0},
		{"429 bare", answer{429, ``, nil}, notify.Retry, "rate-limited", time.Minute},
		{"429 Retry-After", answer{429, ``, []string{"Retry-After", "30"}}, notify.Retry, "rate-limited", 30 * time.Second},
		{"500", answer{500, `oops`, nil}, notify.Retry, "server-error", 0},
		{"503 coded Retry-After", coded(503, "ServiceUnavailable", "Retry-After", "5"), notify.Retry, "server-error", 5 * time.Second},
		{"404 text", answer{404, `not found`, nil}, notify.Permanent, "http-status", 0},
		{"302", answer{302, ``, []string{"Location", "/login"}}, notify.Permanent, "http-status", 0},
		{"400 unknown code", coded(400, "something.new"), notify.Permanent, "platform-error", 0},
		{"400 permanent Retry-After ignored", coded(400, "bot.stopped", "Retry-After", "60"), notify.Permanent, "robot-disabled", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := cannedServer(t, okToken, tt.send)
			_, err := newClient(newClock()).SendToUsers(t.Context(), app, []string{"u1"}, alertMessage())
			_, gerr := newClient(newClock()).SendToGroup(t.Context(), app, testGroup, alertMessage())
			for _, err := range []error{err, gerr} {
				if tt.action == 0 {
					if err != nil {
						t.Fatalf("err = %v, want success", err)
					}
					continue
				}
				e := wantCode(t, err, tt.action, tt.code)
				if e.RetryAfter != tt.retryAfter {
					t.Errorf("RetryAfter = %v, want %v", e.RetryAfter, tt.retryAfter)
				}
				if tt.send.status != 200 && !strings.Contains(e.Error(), fmt.Sprintf("HTTP %d", tt.send.status)) {
					t.Errorf("error %q does not give the status", e)
				}
				if strings.Contains(tt.send.body, "requestid") && (!strings.Contains(e.Error(), "30EE8654-1AA2-7D88-8248-9518547248AA") || e.PlatformMessage != "说明") {
					t.Errorf("error %q (platform message %q) lacks DingTalk's request ID or message", e, e.PlatformMessage)
				}
			}
		})
	}
}

// TestTokenAnswers maps the token endpoint's answers to what to do.
func TestTokenAnswers(t *testing.T) {
	coded := func(status int, code string) answer {
		return answer{status, fmt.Sprintf(`{"code":%q,"requestid":"30EE8654-1AA2-7D88-8248-9518547248AA","message":"说明"}`, code), nil}
	}
	tests := []struct {
		name   string
		token  answer
		action notify.Action
		code   string
	}{
		{"invalidClientIdOrSecret", coded(400, "invalidClientIdOrSecret"), notify.Permanent, "app-auth-failed"},
		{"another 400 code", coded(400, "invalidParameter.appKey.notExist"), notify.Permanent, "app-auth-failed"},
		{"InvalidAuthentication", coded(401, "InvalidAuthentication"), notify.Permanent, "app-auth-failed"},
		{"401 bare", answer{401, ``, nil}, notify.Permanent, "app-auth-failed"},
		{"Missingbody", coded(400, "Missingbody"), notify.Permanent, "bad-request"},
		{"QPS", coded(403, "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi"), notify.Retry, "rate-limited"},
		{"IP allowlist", coded(403, "Forbidden.AccessDenied.IpNotInWhiteList"), notify.Permanent, "permission-denied"},
		{"500", answer{500, ``, nil}, notify.Retry, "server-error"},
		{"404 bare", answer{404, `no`, nil}, notify.Permanent, "http-status"},
		{"200 without token", answer{200, `{"expireIn":7200}`, nil}, notify.Retry, "unexpected-response"},
		{"200 html", answer{200, `<html>`, nil}, notify.Retry, "unexpected-response"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := cannedServer(t, tt.token, answer{200, `{}`, nil})
			_, err := newClient(newClock()).SendToUsers(t.Context(), app, []string{"u1"}, alertMessage())
			if e := wantCode(t, err, tt.action, tt.code); e.Action == notify.Permanent && e.Hint == "" {
				t.Error("no hint")
			}
		})
	}
}

// TestTokenLifetimes: the lifetime DingTalk states decides when the
// token is refreshed; a missing or absurd one is taken as two hours.
func TestTokenLifetimes(t *testing.T) {
	for _, tt := range []struct {
		expireIn string
		refresh  time.Duration // how long the token is used before a refresh
	}{
		{`7200`, 108 * time.Minute},
		{`600`, 5 * time.Minute},
		{`60`, 30 * time.Second},
		{`0`, 108 * time.Minute},
		{`-5`, 108 * time.Minute},
		{`99999999999`, 108 * time.Minute},
	} {
		t.Run(tt.expireIn, func(t *testing.T) {
			var fetches atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == tokenPath {
					fetches.Add(1)
					fmt.Fprintf(w, `{"accessToken":"tok","expireIn":%s}`, tt.expireIn)
					return
				}
				fmt.Fprint(w, `{}`)
			}))
			defer srv.Close()
			clk := newClock()
			c := newClient(clk)
			app := App{BaseURL: srv.URL, ClientID: testClientID, ClientSecret: secret.New(testSecret)}
			send := func() {
				t.Helper()
				if _, err := c.SendToUsers(t.Context(), app, []string{"u1"}, alertMessage()); err != nil {
					t.Fatal(err)
				}
			}
			send()
			clk.Advance(tt.refresh - time.Second)
			send()
			if n := fetches.Load(); n != 1 {
				t.Errorf("%d fetches a second before the refresh, want 1", n)
			}
			clk.Advance(time.Second)
			send()
			if n := fetches.Load(); n != 2 {
				t.Errorf("%d fetches at the refresh, want 2", n)
			}
		})
	}
}

// TestTokenCachePrunes: entries of credentials no longer used go when
// their token has expired.
func TestTokenCachePrunes(t *testing.T) {
	clk := newClock()
	app := cannedServer(t, okToken, answer{200, `{}`, nil})
	c := newClient(clk)
	for i := range 3 {
		a := app
		a.ClientSecret = secret.New(fmt.Sprint("secret-", i))
		if _, err := c.SendToUsers(t.Context(), a, []string{"u1"}, alertMessage()); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(c.tokens); n != 3 {
		t.Fatalf("%d cache entries, want 3", n)
	}
	clk.Advance(3 * time.Hour)
	if _, err := c.SendToUsers(t.Context(), app, []string{"u1"}, alertMessage()); err != nil {
		t.Fatal(err)
	}
	if n := len(c.tokens); n != 1 {
		t.Errorf("%d cache entries after the others expired, want 1", n)
	}
}

// TestNoSecretLeak: neither the client secret nor an access token appears
// in a returned error, a report, or a log line about the app and the
// error, whatever goes wrong.
func TestNoSecretLeak(t *testing.T) {
	const token = "5e2a8c0f4b6d1e3a9f7c2b8d0e4a6f1c"
	echo := func(status int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			// A hostile or buggy answer quoting the request back.
			w.Header().Set("x-acs-request-id", token)
			w.WriteHeader(status)
			msg := fmt.Sprintf("%s %s %s", r.Header.Get("x-acs-dingtalk-access-token"), testSecret, token)
			fmt.Fprintf(w, `{"code":%q,"requestid":%q,"message":%q}`, "invalidParameter."+token, token+testSecret, msg)
		}
	}
	tokenThen := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == tokenPath {
				fmt.Fprintf(w, `{"accessToken":%q,"expireIn":7200}`, token)
				return
			}
			h(w, r)
		}
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	tests := []struct {
		name    string
		handler http.HandlerFunc
		baseURL string // overrides the server's
		code    string
		// gotToken: the client received the token, so it must not show
		// it. (A token a server makes up when refusing one is no secret.)
		gotToken bool
	}{
		{name: "token endpoint echoing", handler: echo(400), code: "app-auth-failed"},
		{name: "token endpoint 500 echoing", handler: echo(500), code: "server-error"},
		{name: "token endpoint 200 garbage", handler: func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `{"accessToken":%q,"expireIn":"soon"}`, token)
		}, code: "unexpected-response", gotToken: true},
		{name: "send echoing", handler: tokenThen(echo(400)), code: "bad-request", gotToken: true},
		{name: "send 500 echoing", handler: tokenThen(echo(500)), code: "server-error", gotToken: true},
		{name: "send 200 garbage", handler: tokenThen(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `[%q, %q]`, r.Header.Get("x-acs-dingtalk-access-token"), testSecret)
		}), code: "unexpected-response", gotToken: true},
		{name: "connection closed", handler: tokenThen(func(w http.ResponseWriter, _ *http.Request) {
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				conn.Close()
			}
		}), code: "network", gotToken: true},
		{name: "timeout", handler: tokenThen(func(_ http.ResponseWriter, r *http.Request) {
			// Only once the body is read does net/http watch the
			// connection and end the context when the client hangs up.
			_, _ = io.Copy(io.Discard, r.Body)
			<-r.Context().Done()
		}), code: "timeout", gotToken: true},
		{name: "connection refused", baseURL: closed.URL, code: "network"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			app := App{BaseURL: srv.URL, ClientID: testClientID, ClientSecret: secret.New(testSecret)}
			if tt.baseURL != "" {
				app.BaseURL = tt.baseURL
			}
			c := newClient(newClock())
			c.Timeout = 100 * time.Millisecond
			rep, err := c.SendToUsers(t.Context(), app, []string{"u1"}, alertMessage())
			_, gerr := c.SendToGroup(t.Context(), app, testGroup, alertMessage())
			for _, err := range []error{err, gerr} {
				e := wantCode(t, err, notify.AsError(err).Action, tt.code)
				var logs bytes.Buffer
				slog.New(slog.NewTextHandler(&logs, nil)).Error("send failed", "app", app, "err", err, "settings", fmt.Sprintf("%v %+v", app, app))
				slog.New(slog.NewJSONHandler(&logs, nil)).Error("send failed", "app", app, "err", err)
				texts := map[string]string{
					"Error()":   err.Error(),
					"%+v":       fmt.Sprintf("%+v", e),
					"fields":    e.Message + e.Hint + e.PlatformMessage,
					"report":    fmt.Sprintf("%+v", rep),
					"logs":      logs.String(),
					"cause %#v": fmt.Sprintf("%#v", errors.Unwrap(err)),
				}
				hidden := map[string]string{"secret": testSecret}
				if tt.gotToken {
					hidden["token"] = token
				}
				for what, text := range texts {
					for name, v := range hidden {
						if strings.Contains(text, v) {
							t.Errorf("%s shows the %s:\n%s", what, name, text)
						}
					}
				}
				if !strings.Contains(logs.String(), secret.Mask) {
					t.Errorf("the log does not show the secret masked:\n%s", logs.String())
				}
			}
		})
	}
}

func TestRefusedAddress(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("the guard let a refused address through")
	}))
	defer srv.Close()
	refuse := func(addr string, ip netip.Addr) error { return fmt.Errorf("%s: %w", ip, notify.ErrAddressRefused) }
	c := &Client{HTTP: notify.NewHTTPClient(5*time.Second, refuse)}
	app := App{BaseURL: srv.URL, ClientID: testClientID, ClientSecret: secret.New(testSecret)}
	_, err := c.SendToUsers(t.Context(), app, []string{"u1"}, alertMessage())
	if e := wantCode(t, err, notify.Permanent, "address-not-allowed"); e.Hint == "" {
		t.Error("no hint")
	}
}
