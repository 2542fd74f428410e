package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// amtoolPath finds the real amtool: $TOCSIN_AMTOOL, else on PATH.
func amtoolPath(t *testing.T) string {
	return toolPath(t, "amtool", "TOCSIN_AMTOOL")
}

// toolPath finds one of Alertmanager's commands: $env, else name on PATH.
// Without it the test skips, unless TOCSIN_REQUIRE_TOOLS=1 (CI), when it
// fails. Install them with
//
//	GOBIN=$HOME/go/bin go install github.com/prometheus/alertmanager/cmd/<name>@v0.28.1
func toolPath(t *testing.T, name, env string) string {
	t.Helper()
	path := os.Getenv(env)
	if path == "" {
		var err error
		if path, err = exec.LookPath(name); err != nil {
			path = ""
		}
	}
	if path == "" {
		msg := name + " is not on PATH and " + env + " is not set: install it with GOBIN=$HOME/go/bin go install github.com/prometheus/alertmanager/cmd/" + name + "@v0.28.1"
		if os.Getenv("TOCSIN_REQUIRE_TOOLS") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return path
}

// amtool runs amtool against a Tocsin, authenticating with token through
// an HTTP client configuration file, as an operator would. It returns
// stdout and stderr, and fails the test on a non-zero exit unless
// wantFail.
type amtool struct {
	t        *testing.T
	path     string
	base     string
	httpConf string
	home     string
}

func newAmtool(t *testing.T, base, token string) *amtool {
	dir := t.TempDir()
	conf := filepath.Join(dir, "http.yml")
	if err := os.WriteFile(conf, []byte("authorization:\n  credentials: "+token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &amtool{t: t, path: amtoolPath(t), base: base, httpConf: conf, home: dir}
}

func (a *amtool) run(wantFail bool, args ...string) (stdout, stderr string) {
	a.t.Helper()
	args = append([]string{"--alertmanager.url=" + a.base, "--http.config.file=" + a.httpConf, "--timeout=10s"}, args...)
	cmd := exec.CommandContext(a.t.Context(), a.path, args...)
	// amtool reads defaults from $HOME/.config/amtool/config.yml: keep
	// the user's out of the test.
	cmd.Env = append(os.Environ(), "HOME="+a.home)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err != nil && !errors.As(err, &exit):
		a.t.Fatalf("amtool %s: %v", strings.Join(args[3:], " "), err)
	case (err != nil) != wantFail:
		a.t.Fatalf("amtool %s: exit %v, want failure %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args[3:], " "), err, wantFail, out.String(), errOut.String())
	}
	return out.String(), errOut.String()
}

func TestAmtoolManagesSilences(t *testing.T) {
	tc := startTocsin(t, t.TempDir(), "--admin-token", testAdminToken)
	am := newAmtool(t, tc.base, testAdminToken)

	out, _ := am.run(false, "silence", "add", "alertname=Foo", `instance=~"db-.*"`, "--author=ann", "--comment=disk swap, TICKET-1", "--duration=1h")
	id := strings.TrimSpace(out)
	if len(id) != 36 {
		t.Fatalf("silence add printed %q, want the new silence's id", out)
	}
	status, sil := call(t, "GET", tc.base+"/api/v2/silence/"+id, testAdminToken, nil)
	if status != http.StatusOK || sil["createdBy"] != "ann" || sil["comment"] != "disk swap, TICKET-1" || sil["status"].(map[string]any)["state"] != "active" {
		t.Fatalf("the silence amtool added: %d %v", status, sil)
	}

	out, _ = am.run(false, "silence", "query")
	for _, want := range []string{id, "alertname=\"Foo\"", "instance=~\"db-.*\"", "ann", "disk swap, TICKET-1"} {
		if !strings.Contains(out, want) {
			t.Errorf("silence query output lacks %s:\n%s", want, out)
		}
	}
	for _, q := range []struct {
		args []string
		want string
	}{
		{[]string{"silence", "query", "-q"}, id + "\n"},
		{[]string{"silence", "query", "-q", "alertname=Foo"}, id + "\n"},
		{[]string{"silence", "query", "-q", "Foo"}, id + "\n"}, // amtool's shorthand for alertname=Foo
		{[]string{"silence", "query", "-q", "alertname=Bar"}, ""},
		{[]string{"silence", "query", "-q", "--expired"}, ""},
	} {
		if out, _ := am.run(false, q.args...); out != q.want {
			t.Errorf("amtool %s printed %q, want %q", strings.Join(q.args, " "), out, q.want)
		}
	}

	// amtool decodes the JSON into Alertmanager's own models and prints
	// it again: what it prints is what it understood.
	out, _ = am.run(false, "-o", "json", "silence", "query")
	var got []struct {
		ID       string `json:"id"`
		Status   struct{ State string }
		Matchers []struct {
			Name, Value      string
			IsRegex, IsEqual bool
		}
		StartsAt, EndsAt, UpdatedAt time.Time
		CreatedBy, Comment          string
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 1 {
		t.Fatalf("silence query -o json: %v\n%s", err, out)
	}
	if s := got[0]; s.ID != id || s.Status.State != "active" || len(s.Matchers) != 2 || !s.Matchers[1].IsRegex || !s.Matchers[1].IsEqual ||
		s.EndsAt.Sub(s.StartsAt) < 59*time.Minute || s.UpdatedAt.IsZero() {
		t.Errorf("amtool read the silence as %+v", s)
	}

	// An edit amtool makes (a new end, a new comment; same matchers and
	// start) keeps the silence's id.
	out, _ = am.run(false, "-o", "json", "silence", "update", id, "--duration=2h", "--comment=longer: TICKET-2")
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 1 || got[0].ID != id || got[0].Comment != "longer: TICKET-2" {
		t.Errorf("silence update: %v\n%s", err, out)
	}

	am.run(false, "silence", "expire", id)
	if out, _ := am.run(false, "silence", "query", "-q"); out != "" {
		t.Errorf("after expire, silence query lists %q", out)
	}
	if out, _ := am.run(false, "silence", "query", "-q", "--expired"); out != id+"\n" {
		t.Errorf("after expire, silence query --expired printed %q, want the id", out)
	}

	// Refusals reach the operator in words: amtool prints the body.
	past := time.Now().Add(-2 * time.Hour).UTC()
	_, errOut := am.run(true, "silence", "add", "alertname=Foo", "--author=ann", "--comment=late",
		"--start="+past.Format(time.RFC3339), "--end="+past.Add(time.Hour).Format(time.RFC3339))
	if !strings.Contains(errOut, "400") || !strings.Contains(errOut, "is in the past; a silence must end in the future") {
		t.Errorf("silence add with an end in the past: amtool printed\n%s\nwant the 400 and Tocsin's message", errOut)
	}
	if _, errOut := am.run(true, "silence", "expire", "0190f5e4-7a2b-7c3d-8e4f-000000000000"); !strings.Contains(errOut, "NotFound") {
		t.Errorf("silence expire of an unknown id: amtool printed\n%s", errOut)
	}
	wrong := newAmtool(t, tc.base, "not-the-admin-token")
	if _, errOut := wrong.run(true, "silence", "query"); !strings.Contains(errOut, "401") {
		t.Errorf("silence query with a wrong token: amtool printed\n%s", errOut)
	}
}

func TestAlertmanagerStatusForGrafana(t *testing.T) {
	tc := startTocsin(t, t.TempDir(), "--admin-token", testAdminToken)
	// Grafana's Alertmanager data source (implementation Prometheus) first
	// makes sure the URL is not a Mimir one (/alertmanager/api/v2/status
	// must not answer 200), then wants 200 from /api/v2/status.
	if status, _ := call(t, "GET", tc.base+"/alertmanager/api/v2/status", testAdminToken, nil); status == http.StatusOK {
		t.Errorf("/alertmanager/api/v2/status answers 200: Grafana would take Tocsin for Mimir")
	}
	status, body := call(t, "GET", tc.base+"/api/v2/status", testAdminToken, nil)
	cluster, _ := body["cluster"].(map[string]any)
	version, _ := body["versionInfo"].(map[string]any)
	if status != http.StatusOK || cluster["status"] != "disabled" || version["version"] != Version || body["uptime"] == "" {
		t.Errorf("GET /api/v2/status: %d %v", status, body)
	}
}
