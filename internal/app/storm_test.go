package app

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tocsinhq/tocsin/internal/notify/notifytest"
	"github.com/tocsinhq/tocsin/internal/storm"
)

// timeScale runs a storm test ten times faster than real life: the fake
// robot's clock runs ten times as fast, and the channel's budget, the
// policy's timers and the storm's length are a tenth of the real ones. What
// is checked is what the real storm must show, at the fake's clock: 20
// messages per rolling minute at most, no refusal, every alert delivered,
// the last within 3 minutes of the first.
const timeScale = 10

// scaledClock runs timeScale times faster than the wall clock from start.
type scaledClock struct {
	start time.Time
}

func (c scaledClock) Now() time.Time {
	return c.start.Add(time.Since(c.start) * timeScale)
}

// stormRig is a Tocsin and a fake DingTalk robot on a scaled clock, with
// the default policy sending to the robot.
type stormRig struct {
	fake    *notifytest.DingTalk
	fakeURL string
	channel string
	clock   scaledClock
	args    []string
}

func newStormRig(t *testing.T) *stormRig {
	t.Helper()
	clock := scaledClock{start: time.Now()}
	fake, srv, err := notifytest.StartDingTalk(notifytest.DingTalkOptions{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	fake.AddRobot(robotToken, notifytest.RobotConfig{Secret: robotSec, Keywords: []string{"alert"}})
	return &stormRig{fake: fake, fakeURL: srv.URL, clock: clock,
		args: []string{"--admin-token", testAdminToken, "--allow-hosts", strings.TrimPrefix(srv.URL, "http://"), "--public-url", "https://tocsin.example.com"}}
}

// configure makes the channel (the robot's budget scaled: 20 per 6s) and
// points the default policy at it (group_wait 3s, group_interval 6s).
func (r *stormRig) configure(t *testing.T, base string) {
	t.Helper()
	code, ch := call(t, "POST", base+"/api/v1/channels", testAdminToken, channelBody("storm-robot", r.fake.WebhookURL(r.fakeURL, robotToken),
		map[string]any{"budget": map[string]any{"messages": 20, "per": "6s"}}))
	if code != 201 {
		t.Fatalf("create channel: %d %v", code, ch)
	}
	r.channel = ch["id"].(string)
	code, pol := call(t, "PUT", base+"/api/v1/policies/default", testAdminToken, map[string]any{
		"name": "default", "position": 1000, "targets": map[string]any{"channels": []string{r.channel}},
		"group_by": []string{"alertname"}, "group_wait": "3s", "group_interval": "6s", "repeat_interval": "4h",
	})
	if code != 200 {
		t.Fatalf("update default policy: %d %v", code, pol)
	}
}

// report analyses what the robot accepted.
func (r *stormRig) report(p storm.Plan) storm.Report { return robotReport(r.fake, robotToken, p) }

// waitDelivered polls until every alert of p reached the robot or the
// deadline (real time) passes.
func (r *stormRig) waitDelivered(t *testing.T, p storm.Plan, within time.Duration) storm.Report {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		rep := r.report(p)
		if rep.Delivered == p.Alerts || time.Now().After(deadline) {
			return rep
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// checkStorm checks what issue 3 asks of a storm; timely adds that the
// last alert arrived within 3 minutes of the first (not asked of a storm
// with crashes in it).
func checkStorm(t *testing.T, rep storm.Report, timely bool) {
	t.Helper()
	t.Logf("storm report (robot clock, %dx):\n%s", timeScale, rep)
	if rep.Delivered != rep.Alerts {
		t.Errorf("%d of %d alerts reached the robot; missing %v", rep.Delivered, rep.Alerts, rep.Missing)
	}
	if rep.Refusals != 0 {
		t.Errorf("the robot refused %d requests; the budget must keep it from ever refusing", rep.Refusals)
	}
	if rep.MaxInWindow > 20 {
		t.Errorf("%d messages within one minute of the robot's clock; at most 20 allowed", rep.MaxInWindow)
	}
	if d := rep.Last.Sub(rep.First); timely && d > 3*time.Minute {
		t.Errorf("the last alert arrived %v after the first (robot clock); want within 3 minutes", d)
	}
	if rep.Repeated != 0 {
		t.Errorf("%d alerts were announced as firing in more than one message", rep.Repeated)
	}
}

// TestStormArrivesAsAFewMessagesWithinBudget is the storm of issue 3 at ten
// times speed: 2,000 alerts across 50 alertnames within a minute, to one
// DingTalk robot through the default policy.
func TestStormArrivesAsAFewMessagesWithinBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("a storm takes about 20 seconds")
	}
	rig := newStormRig(t)
	tc := startTocsin(t, t.TempDir(), rig.args...)
	rig.configure(t, tc.base)
	p := storm.Plan{Alerts: 2000, Names: 50, Over: time.Minute / timeScale, Batch: 100, Senders: 4, Run: "s1"}
	if _, err := storm.Fire(context.Background(), http.DefaultClient, tc.base, testAdminToken, p); err != nil {
		t.Fatal(err)
	}
	checkStorm(t, rig.waitDelivered(t, p, 30*time.Second), true)
}

// TestStormSurvivesKill9Twice is the same storm with the server killed
// (SIGKILL) twice midway and started again on its data: every alert still
// reaches the robot, none is announced twice (a message resent after a
// crash carries the same msgUuid, which the robot drops), and the budget
// holds across the restarts because what was spent is stored.
func TestStormSurvivesKill9Twice(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs a storm")
	}
	bin := buildTocsin(t)
	rig := newStormRig(t)
	dir := t.TempDir()
	addr := freeAddr(t)
	base := "http://" + addr
	args := append([]string{"serve", "--listen", addr, "--data-dir", dir, "--log-level", "warn"}, rig.args...)
	proc := startProcess(t, bin, args...)
	rig.configure(t, base)

	p := storm.Plan{Alerts: 2000, Names: 50, Over: time.Minute / timeScale, Batch: 100, Senders: 4, Run: "k9", Retry: true}
	var (
		mu     sync.Mutex
		kills  int
		killed = make(chan struct{}, 2)
	)
	// The first kill falls in the middle of the intake, the second once
	// the robot has accepted a message (mid-delivery).
	p.Sent = func(n int) {
		mu.Lock()
		defer mu.Unlock()
		if n == 7 && kills == 0 {
			kills++
			killed <- struct{}{}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	fired := make(chan error, 1)
	go func() {
		_, err := storm.Fire(ctx, http.DefaultClient, base, testAdminToken, p)
		fired <- err
	}()
	restart := func(why string) {
		proc.kill(t)
		t.Logf("killed with SIGKILL: %s", why)
		proc = startProcess(t, bin, args...)
	}
	<-killed
	restart("in the middle of the intake")
	deadline := time.Now().Add(time.Minute)
	for len(rig.fake.Accepted(robotToken)) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	restart("after the robot accepted a first message")
	if err := <-fired; err != nil {
		t.Fatal(err)
	}
	checkStorm(t, rig.waitDelivered(t, p, time.Minute), false)
}

// buildTocsin builds the tocsin binary into a temporary directory.
func buildTocsin(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "tocsin")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/tocsinhq/tocsin/cmd/tocsin")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// process is a tocsin running as its own process.
type process struct {
	cmd    *exec.Cmd
	output *syncBuffer
	done   chan struct{}
}

// startProcess runs bin with args and waits until it answers /healthz.
func startProcess(t *testing.T, bin string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(bin, args...), output: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.output, p.output
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.kill(t) })
	var listen string
	for i, a := range args {
		if a == "--listen" && i+1 < len(args) {
			listen = args[i+1]
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + listen + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case <-p.done:
			t.Fatalf("tocsin exited while starting:\n%s", p.output.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("tocsin did not answer /healthz within 20s:\n%s", p.output.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *process) kill(t *testing.T) {
	select {
	case <-p.done:
		return
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && err != os.ErrProcessDone {
		t.Errorf("kill: %v", err)
	}
	<-p.done
}
