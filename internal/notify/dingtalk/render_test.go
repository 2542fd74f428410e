package dingtalk

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	cjk := strings.Repeat("告警：主机 web-1 的 CPU 使用率超过 90%，请尽快处理。🔥\n", 12)
	tests := []struct {
		name  string
		robot Robot
		msg   func(m *notify.Message)
		limit int // 0: MaxBodyBytes
	}{
		{name: "markdown", robot: Robot{}},
		{name: "markdown-no-id", msg: func(m *notify.Message) { m.ID = "" }},
		{name: "markdown-buttons", msg: func(m *notify.Message) { m.Buttons = []notify.Button{details, silence, claim} }},
		{name: "text", robot: Robot{MsgType: MsgText}, msg: func(m *notify.Message) { m.Buttons = []notify.Button{details, silence} }},
		{name: "actioncard-single", robot: Robot{MsgType: MsgActionCard}},
		{name: "actioncard-multi", robot: Robot{MsgType: MsgActionCard}, msg: func(m *notify.Message) { m.Buttons = []notify.Button{details, silence, claim} }},
		{name: "actioncard-no-buttons", robot: Robot{MsgType: MsgActionCard}, msg: func(m *notify.Message) { m.Buttons = nil }},
		{name: "link", robot: Robot{MsgType: MsgLink, AtMobiles: []string{"13800000000"}},
			msg: func(m *notify.Message) { m.Buttons = []notify.Button{details, silence} }},
		{name: "feedcard", robot: Robot{MsgType: MsgFeedCard, Keywords: []string{"告警"}},
			msg: func(m *notify.Message) {
				m.Buttons = []notify.Button{details, silence, claim}
				m.Mentions.All = true
			}},
		{name: "markdown-mentions",
			robot: Robot{AtMobiles: []string{"13800000000", " 13900000000 "}, AtUserIDs: []string{"manager7675"}},
			msg: func(m *notify.Message) {
				m.Mentions = notify.Mentions{Mobiles: []string{"13900000000", "+852-12345678", ""}, UserIDs: []string{"user123", "manager7675"}}
			}},
		{name: "text-mentions-all", robot: Robot{MsgType: MsgText, AtAll: true},
			msg: func(m *notify.Message) { m.Mentions.UserIDs = []string{"user123"} }},
		{name: "actioncard-mentions", robot: Robot{MsgType: MsgActionCard, AtUserIDs: []string{"manager7675"}}},
		{name: "markdown-keyword", robot: Robot{Keywords: []string{"", "告警", "PROD"}}},
		{name: "markdown-keyword-present", robot: Robot{Keywords: []string{"告警", "HighCPU"}}},
		{name: "text-keyword", robot: Robot{MsgType: MsgText, Keywords: []string{"告警"}}},
		{name: "text-no-title-keyword", robot: Robot{MsgType: MsgText, Keywords: []string{"告警"}}, msg: func(m *notify.Message) { m.Title = "" }},
		{name: "markdown-no-title", msg: func(m *notify.Message) { m.Title = "" }},
		{name: "split", limit: 1000,
			robot: Robot{Keywords: []string{"告警"}, AtMobiles: []string{"13800000000"}, MsgType: MsgActionCard},
			msg: func(m *notify.Message) {
				m.Title = "Disk full on 3 hosts"
				m.Text = cjk + strings.Repeat("x", 800)
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
				limit = MaxBodyBytes
			}
			rd, err := tt.robot.render(msg, limit)
			if err != nil {
				t.Fatal(err)
			}
			checkParts(t, tt.robot, rd, limit)
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(struct {
				Parts []Payload `json:"parts"`
				Notes []string  `json:"notes,omitempty"`
			}{rd.Parts, rd.Notes}); err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata", tt.name+".golden"), buf.Bytes())
		})
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
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

// checkParts asserts what Render promises of every part: within the limit,
// valid UTF-8, and the keyword in title and body.
func checkParts(t *testing.T, r Robot, rd Rendered, limit int) {
	t.Helper()
	if len(rd.Parts) == 0 {
		t.Fatal("no parts")
	}
	kws := r.keywords()
	for i, p := range rd.Parts {
		b, err := p.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > limit {
			t.Errorf("part %d is %d bytes, over %d", i+1, len(b), limit)
		}
		if !utf8.Valid(b) {
			t.Errorf("part %d is not valid UTF-8", i+1)
		}
		if len(kws) == 0 {
			continue
		}
		for _, field := range visible(p) {
			if !containsAny(field, kws) {
				t.Errorf("part %d: no keyword of %q in %q", i+1, kws, field)
			}
		}
	}
}

// visible returns the fields of p that must each carry a keyword.
func visible(p Payload) []string {
	switch {
	case p.Text != nil:
		return []string{p.Text.Content}
	case p.Markdown != nil:
		return []string{p.Markdown.Title, p.Markdown.Text}
	case p.ActionCard != nil:
		return []string{p.ActionCard.Title, p.ActionCard.Text}
	case p.Link != nil:
		return []string{p.Link.Title, p.Link.Text}
	case p.FeedCard != nil:
		var titles []string
		for _, l := range p.FeedCard.Links {
			titles = append(titles, l.Title)
		}
		return []string{strings.Join(titles, "\n")}
	}
	return nil
}

func TestRenderMentions(t *testing.T) {
	r := Robot{AtMobiles: []string{"13800000000"}, AtUserIDs: []string{"manager7675"}}
	msg := alertMessage()
	msg.Mentions = notify.Mentions{Mobiles: []string{"13800000000", "13900000000"}, UserIDs: []string{"user123"}, All: true}
	want := &At{AtMobiles: []string{"13800000000", "13900000000"}, AtUserIDs: []string{"manager7675", "user123"}, IsAtAll: true}
	const line = "@13800000000 @13900000000 @manager7675 @user123"

	for _, mt := range []MsgType{MsgMarkdown, MsgActionCard, MsgText} {
		t.Run(string(mt), func(t *testing.T) {
			r := r
			r.MsgType = mt
			rd, err := r.Render(msg)
			if err != nil {
				t.Fatal(err)
			}
			p := rd.Parts[0]
			if diff := cmp.Diff(want, p.At); diff != "" {
				t.Errorf("at (-want +got):\n%s", diff)
			}
			if body := visible(p)[len(visible(p))-1]; !strings.Contains(body, line) {
				t.Errorf("the text does not write the mentions %q:\n%s", line, body)
			}
			if len(rd.Notes) != 0 {
				t.Errorf("notes = %q, want none", rd.Notes)
			}
		})
	}
	for _, mt := range []MsgType{MsgLink, MsgFeedCard} {
		t.Run(string(mt), func(t *testing.T) {
			r := r
			r.MsgType = mt
			rd, err := r.Render(msg)
			if err != nil {
				t.Fatal(err)
			}
			for i, p := range rd.Parts {
				if p.At != nil {
					t.Errorf("part %d has at %+v; %s cannot mention", i+1, p.At, mt)
				}
				if b, _ := p.Encode(); bytes.Contains(b, []byte("@1380")) {
					t.Errorf("part %d writes a mention: %s", i+1, b)
				}
			}
			if !hasNote(rd, "mentions:") {
				t.Errorf("notes = %q, want one saying the mentions were dropped", rd.Notes)
			}
		})
	}
}

// TestRenderMentionsFirstPartOnly: a split message notifies people once.
func TestRenderMentionsFirstPartOnly(t *testing.T) {
	r := Robot{AtMobiles: []string{"13800000000"}}
	msg := alertMessage()
	msg.Text = strings.Repeat("line of text\n", 5000)
	rd, err := r.Render(msg)
	if err != nil {
		t.Fatal(err)
	}
	if len(rd.Parts) < 2 {
		t.Fatalf("got %d parts, want a split", len(rd.Parts))
	}
	for i, p := range rd.Parts {
		mentioned := p.At != nil || strings.Contains(p.Markdown.Text, "@13800000000")
		if mentioned != (i == 0) {
			t.Errorf("part %d: mentioned = %v", i+1, mentioned)
		}
	}
}

func TestRenderKeyword(t *testing.T) {
	tests := []struct {
		name      string
		keywords  []string
		title     string
		text      string
		wantTitle string
		wantText  string
	}{
		{"none configured", nil, "CPU high", "load 9", "CPU high", "load 9"},
		{"in both", []string{"CPU"}, "CPU high", "CPU load 9", "CPU high", "CPU load 9"},
		{"any keyword will do", []string{"alert", "load"}, "alert: CPU high", "load 9", "alert: CPU high", "load 9"},
		{"missing from title", []string{"CPU"}, "high", "CPU load 9", "[CPU] high", "CPU load 9"},
		{"missing from text", []string{"CPU"}, "CPU high", "load 9", "CPU high", "load 9\n\n[CPU]"},
		{"missing everywhere", []string{"告警", "alert"}, "high", "load 9", "[告警] high", "load 9\n\n[告警]"},
		{"case matters", []string{"CPU"}, "cpu high", "cpu", "[CPU] cpu high", "cpu\n\n[CPU]"},
		{"empty keyword ignored", []string{""}, "high", "load 9", "high", "load 9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rd, err := Robot{Keywords: tt.keywords}.Render(notify.Message{Title: tt.title, Text: tt.text})
			if err != nil {
				t.Fatal(err)
			}
			got := rd.Parts[0].Markdown
			if diff := cmp.Diff(&Markdown{Title: tt.wantTitle, Text: tt.wantText}, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestRenderErrors(t *testing.T) {
	huge := strings.Repeat("x", MaxBodyBytes)
	tests := []struct {
		name  string
		robot Robot
		msg   notify.Message
		code  string
	}{
		{"empty", Robot{}, notify.Message{}, "empty-message"},
		{"unknown type", Robot{MsgType: "image"}, alertMessage(), "unsupported-message-type"},
		{"link without button", Robot{MsgType: MsgLink}, notify.Message{Title: "t", Text: "x"}, "invalid-message"},
		{"feedCard without button", Robot{MsgType: MsgFeedCard}, notify.Message{Title: "t", Text: "x"}, "invalid-message"},
		{"keyword too long", Robot{Keywords: []string{huge}}, alertMessage(), "message-unsplittable"},
		{"buttons too long", Robot{}, notify.Message{Title: "t", Buttons: []notify.Button{{Title: "b", URL: huge}}}, "message-unsplittable"},
		{"feed link too long", Robot{MsgType: MsgFeedCard}, notify.Message{Buttons: []notify.Button{{Title: "b", URL: huge}}}, "message-unsplittable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.robot.Render(tt.msg)
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

func TestRenderMsgUUID(t *testing.T) {
	msg := alertMessage()
	msg.Text = strings.Repeat("a line of the alert\n", 3000)
	rd, err := Robot{}.Render(msg)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Robot{}.Render(msg)
	if err != nil {
		t.Fatal(err)
	}
	var got, want []string
	for i, p := range rd.Parts {
		got = append(got, p.MsgUUID)
		want = append(want, fmt.Sprintf("d41d8cd9-%d", i+1))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("msgUuid (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(rd, again); diff != "" {
		t.Errorf("rendering twice differs, so a retry would not reuse its keys:\n%s", diff)
	}
}

// TestRenderSplit renders long texts at the real limit and checks that
// every part fits and carries the keyword, that parts are numbered, that
// nothing is lost but the end of lines too long for a part, and that parts
// are well filled (the size accounting is exact, not just safe).
func TestRenderSplit(t *testing.T) {
	emojiLine := strings.Repeat("🔥👨‍👩‍👧 ", 40)
	tests := []struct {
		name string
		text string
		cut  int // lines cut short
	}{
		// Each text splits into several parts but no more than MaxParts.
		{"cjk", strings.Repeat("告警：主机 web-1 的 CPU 使用率超过 90%，请尽快处理。\n", 1000), 0},
		{"emoji", strings.Repeat(emojiLine+"\n", 80), 0},
		{"escapes", strings.Repeat(`"quoted" \path\ <tag> & `+"\ttab \x01 \u2028\n", 1000), 0},
		{"many lines", manyLines(1500), 0},
		{"one huge cjk line", strings.Repeat("长", 30000), 1},
		{"one huge emoji line", strings.Repeat("😀", 30000), 1},
		{"huge line between", "first\n" + strings.Repeat("é", 40000) + "\nlast", 1},
		{"invalid utf-8", strings.Repeat("ok \xff\xfe line\n", 3000), 0},
	}
	for _, tt := range tests {
		for _, mt := range []MsgType{MsgMarkdown, MsgActionCard, MsgText} {
			t.Run(tt.name+"/"+string(mt), func(t *testing.T) {
				r := Robot{MsgType: mt, Keywords: []string{"告警"}, AtMobiles: []string{"13800000000"}}
				msg := notify.Message{ID: "id", Title: "Disk full", Text: tt.text, Buttons: []notify.Button{details, silence}}
				rd, err := r.Render(msg)
				if err != nil {
					t.Fatal(err)
				}
				checkParts(t, r, rd, MaxBodyBytes)

				n := len(rd.Parts)
				var chunks []string
				for i, p := range rd.Parts {
					title, body := titleBody(p)
					if want := fmt.Sprintf("[告警] Disk full (%d/%d)", i+1, n); n > 1 && title != want {
						t.Errorf("part %d title = %q, want %q", i+1, title, want)
					}
					chunks = append(chunks, chunkOf(t, r, body, i == 0))
					if size := encodedSize(t, p); i < n-1 && size < MaxBodyBytes*9/10 && tt.cut == 0 {
						t.Errorf("part %d of %d is only %d bytes: splitting wastes room", i+1, n, size)
					}
				}
				got := strings.Join(chunks, "\n")
				want := fit.Clean(tt.text)
				if tt.cut == 0 {
					if got != want {
						t.Errorf("joined parts differ from the text: lengths %d, %d", len(got), len(want))
					}
					if len(rd.Notes) != 0 {
						t.Errorf("notes = %q, want none", rd.Notes)
					}
					return
				}
				if !hasNote(rd, "cut short") {
					t.Errorf("notes = %q, want one about the cut", rd.Notes)
				}
				if strings.Count(got, fit.Ellipsis) != tt.cut {
					t.Errorf("%d ellipses, want %d", strings.Count(got, fit.Ellipsis), tt.cut)
				}
				// What is left of the cut line is a prefix of it.
				for line := range strings.SplitSeq(got, "\n") {
					if kept, ok := strings.CutSuffix(line, fit.Ellipsis); ok && !strings.Contains(want, kept) {
						t.Errorf("cut line %.40q… is not from the text", kept)
					}
				}
			})
		}
	}
}

func TestRenderTrimsToMaxParts(t *testing.T) {
	// (One huge line is cut short within one part instead: TestRenderSplit.)
	for _, text := range []string{manyLines(20000), strings.Repeat("告警：磁盘已满。\n", 40000)} {
		for _, mt := range []MsgType{MsgMarkdown, MsgActionCard, MsgText} {
			r := Robot{MsgType: mt, Keywords: []string{"告警"}}
			rd, err := r.Render(notify.Message{ID: "id", Title: "Storm", Text: text})
			if err != nil {
				t.Fatal(err)
			}
			checkParts(t, r, rd, MaxBodyBytes)
			if n := len(rd.Parts); n > MaxParts || n < MaxParts-1 {
				t.Errorf("%s, %d bytes: %d parts, want about %d", mt, len(text), n, MaxParts)
			}
			if !hasNote(rd, "left out") {
				t.Errorf("%s: notes = %q, want one saying what was left out", mt, rd.Notes)
			}
			_, last := titleBody(rd.Parts[len(rd.Parts)-1])
			if !strings.Contains(last, "bytes were left out") {
				t.Errorf("%s: the last part does not tell the reader the message was cut:\n%.200s", mt, last)
			}
		}
	}
}

func TestRenderLinkCuts(t *testing.T) {
	msg := alertMessage()
	msg.Text = strings.Repeat("链接卡片只显示开头。\n", 3000)
	rd, err := Robot{MsgType: MsgLink}.Render(msg)
	if err != nil {
		t.Fatal(err)
	}
	checkParts(t, Robot{}, rd, MaxBodyBytes)
	if len(rd.Parts) != 1 {
		t.Fatalf("a link is one card; got %d parts", len(rd.Parts))
	}
	if text := rd.Parts[0].Link.Text; !strings.HasSuffix(text, fit.Ellipsis) || !strings.HasPrefix(msg.Text, strings.TrimSuffix(text, fit.Ellipsis)) {
		t.Errorf("link text is not the start of the message text, cut with an ellipsis: …%q", text[len(text)-40:])
	}
	if !hasNote(rd, "cut short") {
		t.Errorf("notes = %q, want one about the cut", rd.Notes)
	}
}

func TestRenderFeedCardSplits(t *testing.T) {
	var buttons []notify.Button
	for i := range 300 {
		buttons = append(buttons, notify.Button{Title: fmt.Sprintf("Alert %d", i), URL: fmt.Sprintf("https://tocsin.example/alerts/%d?%s", i, strings.Repeat("q", 60))})
	}
	r := Robot{MsgType: MsgFeedCard, Keywords: []string{"告警"}}
	rd, err := r.Render(notify.Message{ID: "f", Buttons: buttons})
	if err != nil {
		t.Fatal(err)
	}
	checkParts(t, r, rd, MaxBodyBytes)
	var got []string
	for i, p := range rd.Parts {
		if want := fmt.Sprintf("f-%d", i+1); p.MsgUUID != want {
			t.Errorf("part %d msgUuid = %q, want %q", i+1, p.MsgUUID, want)
		}
		for _, l := range p.FeedCard.Links {
			got = append(got, l.MessageURL)
		}
	}
	var want []string
	for _, b := range buttons {
		want = append(want, b.URL)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("links (-want +got):\n%s", diff)
	}
}

// FuzzRender: whatever the title, text and keyword, Render never panics,
// and what it renders fits the limit, is valid UTF-8 and carries the
// keyword; fit.JSONLen agrees with encoding/json.
func FuzzRender(f *testing.F) {
	f.Add("CPU high", "line 1\nline 2", "告警", uint8(0), uint16(0))
	f.Add("", strings.Repeat("长", 9000), "", uint8(1), uint16(300))
	f.Add("t\n\x00", strings.Repeat("\"\\\u2028\n", 3000), "\n", uint8(2), uint16(50))
	f.Add("😀", strings.Repeat("😀", 7000)+"\n"+strings.Repeat("x\n", 2000), "x", uint8(3), uint16(0))
	f.Add("\xff", "\xfe\xff", "\xff", uint8(4), uint16(10))
	f.Fuzz(func(t *testing.T, title, text, kw string, typ uint8, limit uint16) {
		types := []MsgType{MsgMarkdown, MsgActionCard, MsgText, MsgLink, MsgFeedCard}
		r := Robot{MsgType: types[int(typ)%len(types)], Keywords: []string{kw}, AtMobiles: []string{"13800000000"}}
		// Small limits split more; 0 means the real one.
		max := MaxBodyBytes
		if limit > 0 {
			max = 200 + int(limit)%MaxBodyBytes
		}
		msg := notify.Message{ID: "x", Title: title, Text: text, Buttons: []notify.Button{details, silence}}
		if got, want := fit.JSONLen(fit.Clean(text)), encodedSize(t, fit.Clean(text))-2; got != want {
			t.Fatalf("jsonLen = %d, encoding/json writes %d", got, want)
		}
		rd, err := r.render(msg, max)
		if err != nil {
			var e *notify.Error
			if !errors.As(err, &e) || e.Code == "internal" {
				t.Fatalf("render: %v", err)
			}
			return
		}
		checkParts(t, r, rd, max)
	})
}

func manyLines(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "- alert %d: disk /dev/sda%d at 9%d%% on host-%d\n", i, i%9, i%10, i)
	}
	return b.String()
}

func titleBody(p Payload) (title, body string) {
	switch {
	case p.Markdown != nil:
		return p.Markdown.Title, p.Markdown.Text
	case p.ActionCard != nil:
		return p.ActionCard.Title, p.ActionCard.Text
	case p.Text != nil:
		title, body, _ = strings.Cut(p.Text.Content, "\n")
		return title, body
	}
	return "", ""
}

// chunkOf strips from a part's body what Render adds after the text: the
// keyword line, the mentions and the buttons.
func chunkOf(t *testing.T, r Robot, body string, first bool) string {
	t.Helper()
	rest := body
	if r.msgType() != MsgText {
		rest = strings.TrimSuffix(rest, "\n\n[告警]")
	}
	if first {
		var ok bool
		if rest, ok = strings.CutSuffix(rest, "\n\n@13800000000"); !ok {
			t.Fatalf("first part lacks the mentions: …%q", tail(body))
		}
	}
	footer := map[MsgType]string{
		MsgMarkdown: "\n\n[Details](" + details.URL + ") | [Silence 1h](" + silence.URL + ")",
		MsgText:     "\n\nDetails: " + details.URL + "\nSilence 1h: " + silence.URL,
	}[r.msgType()]
	rest, ok := strings.CutSuffix(rest, footer)
	if !ok {
		t.Fatalf("part lacks the buttons: …%q", tail(body))
	}
	return rest
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

func encodedSize(t testing.TB, v any) int {
	t.Helper()
	n, err := fit.EncodedLen(v)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRenderMentionsPeople(t *testing.T) {
	r := Robot{AtMobiles: []string{"13900000000"}}
	msg := notify.Message{Title: "Disk full", Text: "db-1", Mentions: notify.Mentions{People: []notify.Person{
		{Name: "Alice", DingTalkUserID: "alice01", Mobile: "13800000000"}, // the user ID wins
		{Name: "Bob", Mobile: "+852-12345678"},
		{Name: "Carol", Email: "carol@example.com"},
	}}}
	rd, err := r.Render(msg)
	if err != nil {
		t.Fatal(err)
	}
	at := rd.Parts[0].At
	if diff := cmp.Diff([]string{"13900000000", "+852-12345678"}, at.AtMobiles); diff != "" {
		t.Errorf("atMobiles (-want +got): %s", diff)
	}
	if diff := cmp.Diff([]string{"alice01"}, at.AtUserIDs); diff != "" {
		t.Errorf("atUserIds (-want +got): %s", diff)
	}
	_, body := titleBody(rd.Parts[0])
	for _, want := range []string{"@13900000000", "@+852-12345678", "@alice01"} {
		if !strings.Contains(body, want) {
			t.Errorf("text lacks %s, so DingTalk would not notify them:\n%s", want, body)
		}
	}
	if !hasNote(rd, "Carol") {
		t.Errorf("notes %q do not report Carol, who has no DingTalk identity", rd.Notes)
	}
}
