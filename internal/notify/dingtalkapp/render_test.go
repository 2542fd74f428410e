package dingtalkapp

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/tocsinhq/tocsin/internal/notify"
	"github.com/tocsinhq/tocsin/internal/notify/fit"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the current output")

var (
	details = notify.Button{Title: "Details", URL: "https://tocsin.example/alerts/42"}
	silence = notify.Button{Title: "Silence 1h", URL: "https://tocsin.example/alerts/42/silence?for=1h&by=me"}
	claim   = notify.Button{Title: "Claim", URL: "https://tocsin.example/alerts/42/claim"}
	runbook = notify.Button{Title: "Runbook", URL: "https://wiki.example/runbooks/high-cpu"}
	graph   = notify.Button{Title: "Graph", URL: "https://grafana.example/d/cpu?var-host=web-1"}
	resolve = notify.Button{Title: "Resolve", URL: "https://tocsin.example/alerts/42/resolve"}
	escal   = notify.Button{Title: "Escalate", URL: "https://tocsin.example/alerts/42/escalate"}
)

func alertMessage() notify.Message {
	return notify.Message{
		ID:    "d41d8cd9",
		Title: "[FIRING] HighCPU on web-1",
		Text: "#### HighCPU on web-1\n\n" +
			"**Severity**: critical\n\n" +
			"> CPU above 90% for 5 minutes (\"steal\" < 5% & load > 8)\n\n" +
			"- Since: 2026-08-21 09:00:00 CST\n" +
			"- Where: cn-hangzhou / web-1",
		Buttons: []notify.Button{details},
	}
}

func TestRenderGolden(t *testing.T) {
	all := []notify.Button{details, silence, claim, runbook, graph, resolve, escal}
	tests := []struct {
		name  string
		msg   func(m *notify.Message)
		limit int // 0: MaxParamBytes
	}{
		{name: "markdown", msg: func(m *notify.Message) { m.Buttons = nil }},
		{name: "actioncard"},
		{name: "actioncard2", msg: func(m *notify.Message) { m.Buttons = all[:2] }},
		{name: "actioncard3", msg: func(m *notify.Message) { m.Buttons = all[:3] }},
		{name: "actioncard4", msg: func(m *notify.Message) { m.Buttons = all[:4] }},
		{name: "actioncard5", msg: func(m *notify.Message) { m.Buttons = all[:5] }},
		{name: "buttons-over-five", msg: func(m *notify.Message) { m.Buttons = all }},
		{name: "buttons-odd", msg: func(m *notify.Message) {
			m.Buttons = []notify.Button{
				{Title: "No URL"},
				{Title: "Query", URL: "https://logs.example/search?q=" + strings.Repeat("host%3Dweb-1+", 40)},
				{Title: "查看告警详情并在控制台中处理这条告警然后通知值班人员", URL: "https://tocsin.example/alerts/42"},
				{Title: " ", URL: " https://tocsin.example/alerts/42/ack "},
			}
		}},
		{name: "link-escaping", msg: func(m *notify.Message) {
			m.Buttons = append(all[:5:5], notify.Button{Title: "Wiki (CPU)", URL: "https://wiki.example/High CPU (web)"})
		}},
		{name: "no-title", msg: func(m *notify.Message) { m.Title = "" }},
		{name: "title-multiline-long", msg: func(m *notify.Message) {
			m.Title = "[FIRING:12]\nHighCPU " + strings.Repeat("web-1 web-2 ", 12)
		}},
		{name: "buttons-only", msg: func(m *notify.Message) { m.Title, m.Text = "", "" }},
		{name: "title-only", msg: func(m *notify.Message) { m.Text, m.Buttons = " \n ", nil }},
		{name: "escapes", msg: func(m *notify.Message) {
			m.Text = "quote \" backslash \\ <tag> & tab\t nul\x00 sep\u2028 bad\xff byte"
		}},
		{name: "trimmed", limit: 1000, msg: func(m *notify.Message) {
			m.Buttons = all
			m.Text = manyLines(40)
		}},
		{name: "trimmed-cjk-line", limit: 800, msg: func(m *notify.Message) {
			m.Text = "第一行\n" + strings.Repeat("主机 web-1 的 CPU 使用率超过 90%。", 40)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := alertMessage()
			if tt.msg != nil {
				tt.msg(&msg)
			}
			limit := tt.limit
			if limit == 0 {
				limit = MaxParamBytes
			}
			rd, err := render(msg, limit)
			if err != nil {
				t.Fatal(err)
			}
			checkRendered(t, rd, limit)
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(struct {
				MsgKey   string          `json:"msgKey"`
				Bytes    int             `json:"msgParamBytes"`
				MsgParam json.RawMessage `json:"msgParam"`
				Notes    []string        `json:"notes,omitempty"`
			}{rd.MsgKey, len(rd.MsgParam), json.RawMessage(rd.MsgParam), rd.Notes}); err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata", tt.name+".golden"), buf.Bytes())
		})
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got), run go test -update if the change is right:\n%s", path, diff)
	}
}

// wantFields are the msgParam fields of each template Render uses
// (chat-apis §2.4).
var wantFields = map[string][]string{
	KeyMarkdown:    {"title", "text"},
	KeyActionCard:  {"title", "text", "singleTitle", "singleURL"},
	KeyActionCard2: {"title", "text", "actionTitle1", "actionURL1", "actionTitle2", "actionURL2"},
	KeyActionCard3: {"title", "text", "actionTitle1", "actionURL1", "actionTitle2", "actionURL2", "actionTitle3", "actionURL3"},
	KeyActionCard4: {"title", "text", "actionTitle1", "actionURL1", "actionTitle2", "actionURL2", "actionTitle3", "actionURL3", "actionTitle4", "actionURL4"},
	KeyActionCard5: {"title", "text", "actionTitle1", "actionURL1", "actionTitle2", "actionURL2", "actionTitle3", "actionURL3", "actionTitle4", "actionURL4", "actionTitle5", "actionURL5"},
}

// checkRendered asserts what Render promises: a template Tocsin uses, a
// msgParam within the limit that is a valid UTF-8 JSON object with exactly
// that template's fields, none empty, the titles within DingTalk's lengths.
func checkRendered(t testing.TB, rd Rendered, limit int) map[string]string {
	t.Helper()
	fields, ok := wantFields[rd.MsgKey]
	if !ok {
		t.Fatalf("msgKey %q is not one Render uses", rd.MsgKey)
	}
	if n := len(rd.MsgParam); n > limit {
		t.Errorf("msgParam is %d bytes, over %d", n, limit)
	}
	if !utf8.ValidString(rd.MsgParam) {
		t.Error("msgParam is not valid UTF-8")
	}
	var p map[string]string
	if err := json.Unmarshal([]byte(rd.MsgParam), &p); err != nil {
		t.Fatalf("msgParam is not a JSON object of strings: %v\n%s", err, rd.MsgParam)
	}
	if diff := cmp.Diff(slices.Sorted(slices.Values(fields)), slices.Sorted(maps.Keys(p))); diff != "" {
		t.Errorf("%s fields (-want +got):\n%s", rd.MsgKey, diff)
	}
	for k, v := range p {
		if strings.TrimSpace(v) == "" {
			t.Errorf("field %s is blank", k)
		}
		max := map[bool]int{true: maxButtonTitleRunes, false: maxTitleRunes}[strings.Contains(k, "Title")]
		if (k == "title" || strings.Contains(k, "Title")) && utf8.RuneCountInString(v) > max {
			t.Errorf("field %s is %d characters, over %d", k, utf8.RuneCountInString(v), max)
		}
		if strings.Contains(k, "URL") && utf8.RuneCountInString(v) > maxButtonURLRunes {
			t.Errorf("field %s is %d characters, over %d", k, utf8.RuneCountInString(v), maxButtonURLRunes)
		}
	}
	return p
}

func TestRenderKeys(t *testing.T) {
	all := []notify.Button{details, silence, claim, runbook, graph, resolve, escal}
	want := []string{KeyMarkdown, KeyActionCard, KeyActionCard2, KeyActionCard3, KeyActionCard4, KeyActionCard5, KeyActionCard5, KeyActionCard5}
	for n := range len(all) + 1 {
		msg := alertMessage()
		msg.Buttons = all[:n]
		rd, err := Render(msg)
		if err != nil {
			t.Fatal(err)
		}
		if rd.MsgKey != want[n] {
			t.Errorf("%d buttons: msgKey %s, want %s", n, rd.MsgKey, want[n])
		}
		p := checkRendered(t, rd, MaxParamBytes)
		// Buttons past the fifth are links at the end of the text.
		for _, b := range all[min(n, MaxButtons):n] {
			if !strings.Contains(p["text"], "["+b.Title+"]("+b.URL+")") {
				t.Errorf("%d buttons: %q is not a link in the text", n, b.Title)
			}
		}
		if hasNote(rd, "at most 5 buttons") != (n > MaxButtons) {
			t.Errorf("%d buttons: notes %q", n, rd.Notes)
		}
	}
}

func TestRenderErrors(t *testing.T) {
	tests := []struct {
		name  string
		msg   notify.Message
		limit int
		code  string
	}{
		{"empty", notify.Message{}, MaxParamBytes, "empty-message"},
		{"blank", notify.Message{Title: " \n ", Buttons: []notify.Button{{Title: "no URL"}}}, MaxParamBytes, "empty-message"},
		{"title and buttons too long", notify.Message{Title: strings.Repeat("告", 200), Text: "x", Buttons: []notify.Button{details, silence}}, 400, "message-too-long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := render(tt.msg, tt.limit)
			var e *notify.Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want a *notify.Error", err)
			}
			if e.Code != tt.code || e.Action != notify.Permanent || e.Hint == "" {
				t.Errorf("got %s %q (hint %q), want permanent %q with a hint", e.Action, e.Code, e.Hint, tt.code)
			}
		})
	}
}

var leftOut = regexp.MustCompile(`\n\n… message too long for DingTalk: the last (\d+) bytes were left out`)

// TestRenderTrims renders long texts at the real limit: the msgParam fits,
// the text kept is the start of the message's, the closing line tells how
// much was left out, the links stay, and the room is well used.
func TestRenderTrims(t *testing.T) {
	tests := []struct {
		name     string
		text     string
		fillFrom float64 // the least share of the limit used
	}{
		{"many lines", manyLines(1000), 0.95},
		{"cjk lines", strings.Repeat("告警：主机 web-1 的 CPU 使用率超过 90%，请尽快处理。\n", 1000), 0.95},
		{"escapes", strings.Repeat(`"quoted" \path\ <tag> & `+"\ttab \x01 \u2028\n", 1000), 0.95},
		{"one huge emoji line", strings.Repeat("😀", 30000), 0.99},
		{"huge line between", "first\n" + strings.Repeat("é", 40000) + "\nlast", 0.99},
		{"invalid utf-8", strings.Repeat("ok \xff\xfe line\n", 3000), 0.95},
		{"just over", strings.Repeat("x", MaxParamBytes), 0.99},
	}
	for _, tt := range tests {
		for _, buttons := range [][]notify.Button{nil, {details}, {details, silence, claim, runbook, graph, resolve, escal}} {
			t.Run(fmt.Sprintf("%s/%d buttons", tt.name, len(buttons)), func(t *testing.T) {
				msg := alertMessage()
				msg.Text, msg.Buttons = tt.text, buttons
				rd, err := Render(msg)
				if err != nil {
					t.Fatal(err)
				}
				p := checkRendered(t, rd, MaxParamBytes)
				if share := float64(len(rd.MsgParam)) / MaxParamBytes; share < tt.fillFrom {
					t.Errorf("msgParam is %d bytes, %.0f%% of the limit, want at least %.0f%%", len(rd.MsgParam), 100*share, 100*tt.fillFrom)
				}
				text := p["text"]
				loc := leftOut.FindStringSubmatchIndex(text)
				if loc == nil {
					t.Fatalf("no closing line in …%q", tail(text))
				}
				head, rest := text[:loc[0]], text[loc[1]:]
				left, _ := strconv.Atoi(text[loc[2]:loc[3]])
				whole := fit.Clean(tt.text)
				if !strings.HasPrefix(whole, head) || strings.TrimFunc(whole[len(head):len(whole)-left], unicode.IsSpace) != "" {
					t.Errorf("kept %d bytes and %d left out of %d: not the start of the text and the rest", len(head), left, len(whole))
				}
				if !hasNote(rd, fmt.Sprintf("the last %d bytes were left out", left)) {
					t.Errorf("notes %q, want one saying %d bytes were left out", rd.Notes, left)
				}
				if len(buttons) > MaxButtons && rest != "\n\n[Resolve]("+resolve.URL+") | [Escalate]("+escal.URL+")" {
					t.Errorf("after the closing line %q, want the links", rest)
				}
			})
		}
	}
}

// TestRenderFitsExactly: a text that just fits is not cut.
func TestRenderFitsExactly(t *testing.T) {
	msg := notify.Message{Title: "t", Text: "x"}
	base, err := Render(msg)
	if err != nil {
		t.Fatal(err)
	}
	msg.Text = strings.Repeat("x", MaxParamBytes-len(base.MsgParam)+1)
	rd, err := Render(msg)
	if err != nil {
		t.Fatal(err)
	}
	if len(rd.MsgParam) != MaxParamBytes || len(rd.Notes) != 0 {
		t.Errorf("msgParam %d bytes, notes %q: want exactly the limit and no cut", len(rd.MsgParam), rd.Notes)
	}
	msg.Text += "x"
	if rd, _ = Render(msg); !hasNote(rd, "left out") {
		t.Errorf("a byte more: notes %q, want a cut", rd.Notes)
	}
}

// FuzzRender: whatever the message, Render never panics, and what it
// renders is a template it uses with exactly its fields, within the
// limit, in valid UTF-8.
func FuzzRender(f *testing.F) {
	f.Add("CPU high", "line 1\nline 2", "Details", "https://e.test/1", uint8(1), uint16(0))
	f.Add("", strings.Repeat("长", 9000), "", "https://e.test/", uint8(7), uint16(300))
	f.Add("t\n\x00", strings.Repeat("\"\\\u2028\n", 3000), "b\n", "\x00", uint8(3), uint16(50))
	f.Add("😀", strings.Repeat("😀", 7000)+"\n"+strings.Repeat("x\n", 2000), strings.Repeat("按钮", 30), strings.Repeat("u", 600), uint8(6), uint16(0))
	f.Add("\xff", "\xfe\xff", "\xff", "\xff", uint8(2), uint16(10))
	f.Add("", "", "", "", uint8(0), uint16(0))
	f.Add("t", " \n\t ", "", "", uint8(0), uint16(0))
	f.Fuzz(func(t *testing.T, title, text, buttonTitle, buttonURL string, buttons uint8, limit uint16) {
		msg := notify.Message{Title: title, Text: text}
		for i := range int(buttons) % 9 {
			msg.Buttons = append(msg.Buttons, notify.Button{Title: buttonTitle, URL: buttonURL + strconv.Itoa(i)})
		}
		max := MaxParamBytes
		if limit > 0 {
			max = 200 + int(limit)%MaxParamBytes // small limits cut more
		}
		rd, err := render(msg, max)
		if err != nil {
			var e *notify.Error
			if !errors.As(err, &e) || (e.Code != "empty-message" && e.Code != "message-too-long") {
				t.Fatalf("render: %v", err)
			}
			return
		}
		checkRendered(t, rd, max)
	})
}

func manyLines(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "- alert %d: disk /dev/sda%d at 9%d%% on host-%d\n", i, i%9, i%10, i)
	}
	return b.String()
}

func tail(s string) string { return s[max(0, len(s)-120):] }

func hasNote(rd Rendered, s string) bool {
	for _, n := range rd.Notes {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}
