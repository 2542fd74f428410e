package lark

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

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/notify"
	"github.com/tocsinhq/tocsin/internal/notify/fit"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the current output")

var (
	details = notify.Button{Title: "Details", URL: "https://tocsin.example/alerts/42"}
	silence = notify.Button{Title: "Silence 1h", URL: "https://tocsin.example/alerts/42/silence?for=1h&by=me"}
	claim   = notify.Button{Title: "Claim", URL: "https://tocsin.example/alerts/42/claim"}

	ann   = notify.Person{Name: "Ann Lee", LarkOpenID: "ou_7d8a6e6df7621556ce0d21922b676706", Mobile: "13800000000"}
	bo    = notify.Person{Name: "Bo", LarkOpenID: "ou_1avnmsbv3k45jnk34j5"}
	carol = notify.Person{Name: "Carol", Mobile: "13900000000", DingTalkUserID: "manager7675"}
)

func alertMessage() notify.Message {
	return notify.Message{
		ID:    "d41d8cd9",
		Title: "[FIRING] HighCPU on web-1",
		Text: "#### HighCPU on web-1\n\n" +
			"**Severity**: critical\n\n" +
			"> CPU above 90% for 5 minutes (\"steal\" < 5% & load > 8)\n\n" +
			"- Since: 2026-08-21 09:00:00 CST\n" +
			"- Where: cn-hangzhou / web-1 ([graph](https://grafana.example/d/cpu?var-host=web-1))",
		Buttons: []notify.Button{details},
		Status:  alert.Firing,
		Alerts:  []alert.Alert{{Severity: alert.Critical}},
	}
}

func TestRenderGolden(t *testing.T) {
	cjk := strings.Repeat("告警：主机 web-1 的 CPU 使用率超过 90%，请尽快处理。🔥\n", 12)
	tests := []struct {
		name  string
		bot   Bot
		msg   func(m *notify.Message)
		limit int // 0: MaxBodyBytes
	}{
		{name: "interactive"},
		{name: "interactive-buttons", msg: func(m *notify.Message) { m.Buttons = []notify.Button{details, silence, claim} }},
		{name: "interactive-resolved", msg: func(m *notify.Message) {
			m.Title, m.Status = "[RESOLVED] HighCPU on web-1", alert.Resolved
		}},
		{name: "interactive-warning", msg: func(m *notify.Message) {
			m.Alerts = []alert.Alert{{Severity: alert.Info}, {Labels: alert.Labels{{Name: "severity", Value: "warn"}}}}
		}},
		{name: "interactive-mentions", msg: func(m *notify.Message) {
			m.Mentions = notify.Mentions{People: []notify.Person{ann, bo, carol, ann}, Mobiles: []string{"13800000000"}, All: true}
		}},
		{name: "interactive-keyword", bot: Bot{Keywords: []string{"", "告警", "PROD"}}},
		{name: "interactive-keyword-present", bot: Bot{Keywords: []string{"告警", "HighCPU"}}},
		{name: "interactive-no-title", msg: func(m *notify.Message) { m.Title = "" }},
		{name: "interactive-buttons-only", bot: Bot{Keywords: []string{"告警"}}, msg: func(m *notify.Message) {
			m.Title, m.Text, m.Status, m.Alerts = "", "", "", nil
		}},
		{name: "interactive-defused", msg: func(m *notify.Message) {
			m.Title = "<at id=all></at> everyone look"
			m.Text = `label value <AT id=all></AT> and <at user_id="all">all</at>`
		}},
		{name: "post", bot: Bot{MsgType: MsgPost}, msg: func(m *notify.Message) { m.Buttons = []notify.Button{details, silence} }},
		{name: "post-mentions", bot: Bot{MsgType: MsgPost}, msg: func(m *notify.Message) {
			m.Mentions = notify.Mentions{People: []notify.Person{ann, carol, bo}, All: true}
		}},
		{name: "post-keyword", bot: Bot{MsgType: MsgPost, Keywords: []string{"告警"}}},
		{name: "post-no-title", bot: Bot{MsgType: MsgPost}, msg: func(m *notify.Message) { m.Title = "" }},
		{name: "text", bot: Bot{MsgType: MsgText}, msg: func(m *notify.Message) { m.Buttons = []notify.Button{details, silence} }},
		{name: "text-mentions-all", bot: Bot{MsgType: MsgText}, msg: func(m *notify.Message) {
			m.Mentions = notify.Mentions{People: []notify.Person{ann, {LarkOpenID: "ou_x\"><at user_id=all"}}, UserIDs: []string{"user123"}, All: true}
		}},
		{name: "text-keyword", bot: Bot{MsgType: MsgText, Keywords: []string{"告警"}}},
		{name: "split-interactive", limit: 1500,
			bot: Bot{Keywords: []string{"告警"}},
			msg: func(m *notify.Message) {
				m.Title = "Disk full on 3 hosts"
				m.Text = cjk + strings.Repeat("x", 1400)
				m.Mentions.People = []notify.Person{bo}
			}},
		{name: "split-post", limit: 1500,
			bot: Bot{MsgType: MsgPost, Keywords: []string{"告警"}},
			msg: func(m *notify.Message) {
				m.Title = "Disk full on 3 hosts"
				m.Text = cjk + "[graph](https://grafana.example/d/disk) " + strings.Repeat("x", 1400)
				m.Mentions.People = []notify.Person{bo}
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
			rd, err := tt.bot.render(msg, limit)
			if err != nil {
				t.Fatal(err)
			}
			checkParts(t, tt.bot, rd, limit)
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

// checkParts asserts what Render promises of every part: at most MaxParts,
// each within the limit once signed, valid UTF-8, unsigned, and with the
// keyword in its title and its text.
func checkParts(t *testing.T, b Bot, rd Rendered, limit int) {
	t.Helper()
	if len(rd.Parts) == 0 || len(rd.Parts) > MaxParts {
		t.Fatalf("%d parts, want 1 to %d", len(rd.Parts), MaxParts)
	}
	kws := b.keywords()
	for i, p := range rd.Parts {
		body, err := p.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if n := signedSize(t, p); n > limit {
			t.Errorf("part %d is %d bytes signed, over %d", i+1, n, limit)
		}
		if !utf8.Valid(body) {
			t.Errorf("part %d is not valid UTF-8", i+1)
		}
		if p.Timestamp != "" || p.Sign != "" {
			t.Errorf("part %d is signed; Post signs, Render must not", i+1)
		}
		if len(kws) == 0 {
			continue
		}
		title, text := titleText(p)
		if title != "" && !containsAny(title, kws) {
			t.Errorf("part %d: no keyword of %q in the title %q", i+1, kws, title)
		}
		if !containsAny(text, kws) {
			t.Errorf("part %d: no keyword of %q in the text %q", i+1, kws, tail(text))
		}
	}
}

// titleText returns a part's title and the text values Lark's keyword
// check reads besides it: the card's markdown, the post's text and link
// nodes, the text message's content.
func titleText(p Payload) (title, text string) {
	switch {
	case p.Card != nil:
		var md []string
		for _, e := range p.Card.Body.Elements {
			if e.Tag == "markdown" {
				md = append(md, e.Content)
			}
		}
		return p.Card.Header.Title.Content, strings.Join(md, "\n")
	case p.Content != nil && p.Content.Post != nil:
		var lines []string
		for _, para := range p.Content.Post.ZhCN.Content {
			var b strings.Builder
			for _, n := range para {
				if n.Tag != "at" {
					b.WriteString(n.Text)
				}
			}
			lines = append(lines, b.String())
		}
		return p.Content.Post.ZhCN.Title, strings.Join(lines, "\n")
	case p.Content != nil:
		return "", p.Content.Text
	}
	return "", ""
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
		{"only in a link's URL", []string{"grafana"}, "grafana down", "[graph](https://grafana.example/)", "grafana down", "[graph](https://grafana.example/)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rd, err := Bot{Keywords: tt.keywords}.Render(notify.Message{Title: tt.title, Text: tt.text})
			if err != nil {
				t.Fatal(err)
			}
			title, text := titleText(rd.Parts[0])
			if title != tt.wantTitle || text != tt.wantText {
				t.Errorf("title, text = %q, %q; want %q, %q", title, text, tt.wantTitle, tt.wantText)
			}
		})
	}
	// In a post the link's URL is an href, which Lark does not search.
	rd, err := Bot{MsgType: MsgPost, Keywords: []string{"grafana"}}.Render(notify.Message{Title: "grafana down", Text: "[graph](https://grafana.example/)"})
	if err != nil {
		t.Fatal(err)
	}
	if _, text := titleText(rd.Parts[0]); text != "graph\n[grafana]" {
		t.Errorf("post text = %q, want the keyword added after the link", text)
	}
}

func TestRenderMentions(t *testing.T) {
	msg := alertMessage()
	msg.Mentions = notify.Mentions{
		People:  []notify.Person{ann, carol, {Email: "dan@example.com"}, {}, bo, {Name: "Eve", LarkOpenID: "ou_<bad>"}, ann},
		Mobiles: []string{"13800000000"},
		UserIDs: []string{"user123"},
		All:     true,
	}
	wantNotes := []string{
		"mentions: 2 DingTalk mobile number(s) and user ID(s) are not Lark identities and were ignored",
		`mentions: "Carol" has no Lark open ID, not mentioned`,
		`mentions: "dan@example.com" has no Lark open ID, not mentioned`,
		"mentions: a person has no Lark open ID, not mentioned",
		`mentions: "Eve" has an invalid Lark open ID "ou_<bad>", not mentioned`,
	}
	tests := []struct {
		typ  MsgType
		want string // what the part's text must hold
	}{
		{MsgInteractive, "<at id=" + ann.LarkOpenID + "></at> <at id=" + bo.LarkOpenID + "></at> <at id=all></at>"},
		{MsgText, `<at user_id="` + ann.LarkOpenID + `">Ann Lee</at> <at user_id="` + bo.LarkOpenID + `">Bo</at> <at user_id="all">所有人</at>`},
	}
	for _, tt := range tests {
		t.Run(string(tt.typ), func(t *testing.T) {
			rd, err := Bot{MsgType: tt.typ}.Render(msg)
			if err != nil {
				t.Fatal(err)
			}
			if _, text := titleText(rd.Parts[0]); !strings.Contains(text, tt.want) {
				t.Errorf("text lacks the mentions %q:\n%s", tt.want, text)
			}
			if diff := cmp.Diff(wantNotes, rd.Notes); diff != "" {
				t.Errorf("notes (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("post", func(t *testing.T) {
		rd, err := Bot{MsgType: MsgPost}.Render(msg)
		if err != nil {
			t.Fatal(err)
		}
		paras := rd.Parts[0].Content.Post.ZhCN.Content
		want := []PostNode{
			{Tag: "at", UserID: ann.LarkOpenID, UserName: "Ann Lee"}, {Tag: "text", Text: " "},
			{Tag: "at", UserID: bo.LarkOpenID, UserName: "Bo"}, {Tag: "text", Text: " "},
			{Tag: "at", UserID: "all"},
		}
		if diff := cmp.Diff(want, paras[len(paras)-1]); diff != "" {
			t.Errorf("mention paragraph (-want +got):\n%s", diff)
		}
	})
}

// TestRenderMentionsFirstPartOnly: a split message notifies people once.
func TestRenderMentionsFirstPartOnly(t *testing.T) {
	for _, typ := range []MsgType{MsgInteractive, MsgPost, MsgText} {
		msg := alertMessage()
		msg.Text = strings.Repeat("line of text\n", 3000)
		msg.Mentions.People = []notify.Person{bo}
		rd, err := Bot{MsgType: typ}.Render(msg)
		if err != nil {
			t.Fatal(err)
		}
		if len(rd.Parts) < 2 {
			t.Fatalf("%s: got %d parts, want a split", typ, len(rd.Parts))
		}
		for i, p := range rd.Parts {
			b, _ := p.Encode()
			if mentioned := bytes.Contains(b, []byte(bo.LarkOpenID)); mentioned != (i == 0) {
				t.Errorf("%s part %d: mentioned = %v", typ, i+1, mentioned)
			}
		}
	}
}

// TestRenderDefuses: only the mentions Render writes itself are tags.
func TestRenderDefuses(t *testing.T) {
	msg := notify.Message{
		Title:   "<at id=all></at>",
		Text:    "a <at id=all></at> b <AT user_id=\"all\">x</AT> c <At",
		Buttons: []notify.Button{{Title: "<at id=all></at>", URL: "https://e.test"}},
	}
	for _, typ := range []MsgType{MsgInteractive, MsgPost, MsgText} {
		rd, err := Bot{MsgType: typ}.Render(msg)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := rd.Parts[0].Encode()
		if n := atTag(string(b)); n >= 0 {
			t.Errorf("%s: a live <at tag at %d: %s", typ, n, b)
		}
		if got := strings.Count(string(b), "<"+zeroWidthSpace); got < 3 {
			t.Errorf("%s: %d defused tags, want the text kept, defused: %s", typ, got, b)
		}
	}
	if got := defuse("no tags <here> at all"); got != "no tags <here> at all" {
		t.Errorf("defuse changed text without tags: %q", got)
	}
}

func TestHeaderTemplate(t *testing.T) {
	sev := func(s alert.Severity) alert.Alert { return alert.Alert{Severity: s} }
	label := func(v string) alert.Alert { return alert.Alert{Labels: alert.Labels{{Name: "severity", Value: v}}} }
	tests := []struct {
		name   string
		status alert.Status
		alerts []alert.Alert
		want   string
	}{
		{"test send", "", nil, "blue"},
		{"resolved", alert.Resolved, []alert.Alert{sev(alert.Critical)}, "green"},
		{"firing critical", alert.Firing, []alert.Alert{sev(alert.Info), sev(alert.Critical)}, "red"},
		{"firing warning", alert.Firing, []alert.Alert{sev(alert.Info), sev(alert.Warning)}, "orange"},
		{"firing info", alert.Firing, []alert.Alert{sev(alert.Info)}, "blue"},
		{"firing unknown counts as critical", alert.Firing, []alert.Alert{sev(alert.Warning), {}}, "red"},
		{"firing without alerts", alert.Firing, nil, "red"},
		{"severity from the label", alert.Firing, []alert.Alert{label("P2")}, "orange"},
	}
	for _, tt := range tests {
		if got := headerTemplate(notify.Message{Status: tt.status, Alerts: tt.alerts}); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestRenderErrors(t *testing.T) {
	huge := strings.Repeat("x", MaxBodyBytes)
	tests := []struct {
		name string
		bot  Bot
		msg  notify.Message
		code string
	}{
		{"empty", Bot{}, notify.Message{}, "empty-message"},
		{"blank", Bot{}, notify.Message{Title: " \n", Text: "\n \n"}, "empty-message"},
		{"only a button without URL", Bot{}, notify.Message{Buttons: []notify.Button{{Title: "x"}}}, "empty-message"},
		{"unknown type", Bot{MsgType: "image"}, alertMessage(), "unsupported-message-type"},
		{"keyword too long", Bot{Keywords: []string{huge}}, alertMessage(), "message-unsplittable"},
		{"buttons too long", Bot{}, notify.Message{Title: "t", Buttons: []notify.Button{{Title: "b", URL: huge}}}, "message-unsplittable"},
		{"post buttons too long", Bot{MsgType: MsgPost}, notify.Message{Title: "t", Buttons: []notify.Button{{Title: "b", URL: huge}}}, "message-unsplittable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.bot.Render(tt.msg)
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

func TestRenderButtons(t *testing.T) {
	msg := notify.Message{Title: "t", Buttons: []notify.Button{details, {Title: "Broken"}, {URL: "https://e.test/x"}}}
	rd, err := Bot{}.Render(msg)
	if err != nil {
		t.Fatal(err)
	}
	var got []CardElement
	for _, e := range rd.Parts[0].Card.Body.Elements {
		if e.Tag == "button" {
			got = append(got, e)
		}
	}
	want := []CardElement{
		{Tag: "button", Text: &PlainText{"plain_text", "Details"}, Type: "primary", Behaviors: []Behavior{{"open_url", details.URL}}},
		{Tag: "button", Text: &PlainText{"plain_text", "https://e.test/x"}, Type: "default", Behaviors: []Behavior{{"open_url", "https://e.test/x"}}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("buttons (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{`buttons: "Broken" has no URL and was left out`}, rd.Notes); diff != "" {
		t.Errorf("notes (-want +got):\n%s", diff)
	}
}

func TestPostParagraph(t *testing.T) {
	text := func(s string) PostNode { return PostNode{Tag: "text", Text: s} }
	link := func(label, href string) PostNode { return PostNode{Tag: "a", Text: label, Href: href} }
	tests := []struct {
		line string
		want []PostNode
	}{
		{"plain", []PostNode{text("plain")}},
		{"#### Heading", []PostNode{{Tag: "text", Text: "Heading", Style: []string{"bold"}}}},
		{"####### seven", []PostNode{text("####### seven")}},
		{"#nospace", []PostNode{text("#nospace")}},
		{"see [graph](https://g.example/d?x=1) now", []PostNode{text("see "), link("graph", "https://g.example/d?x=1"), text(" now")}},
		{"[a](http://a.test)[b](https://b.test)", []PostNode{link("a", "http://a.test"), link("b", "https://b.test")}},
		{"[x] [y](https://y.test)", []PostNode{text("[x] "), link("y", "https://y.test")}},
		{"[](https://e.test) [ftp](ftp://e.test) [sp](https://e.test/a b)", []PostNode{text("[](https://e.test) [ftp](ftp://e.test) [sp](https://e.test/a b)")}},
		{"[unclosed](https://e.test", []PostNode{text("[unclosed](https://e.test")}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, paragraph(tt.line)); diff != "" {
			t.Errorf("paragraph(%q) (-want +got):\n%s", tt.line, diff)
		}
	}
}

// TestRenderSplit renders long texts at the real limit and checks that
// every part fits and carries the keyword, that parts are numbered, that
// nothing is lost but the end of lines too long for a part, and that parts
// are well filled (the size accounting is exact, not just safe).
func TestRenderSplit(t *testing.T) {
	tests := []struct {
		name string
		text string
		cut  int // lines cut short
	}{
		{"cjk", strings.Repeat("告警：主机 web-1 的 CPU 使用率超过 90%，请尽快处理。\n", 1000), 0},
		{"emoji", strings.Repeat(strings.Repeat("🔥👨‍👩‍👧 ", 40)+"\n", 80), 0},
		{"escapes", strings.Repeat(`"quoted" \path\ <tag> & `+"\ttab \x01 \u2028\n", 1000), 0},
		{"links", strings.Repeat("- [web-1](https://grafana.example/d/cpu?var-host=web-1) CPU 93%\n", 600), 0},
		{"many lines", manyLines(1000), 0},
		{"one huge cjk line", strings.Repeat("长", 30000), 1},
		{"one huge line of links", strings.Repeat("[l](https://e.test/) ", 3000), 1},
		{"huge line between", "first\n" + strings.Repeat("é", 40000) + "\nlast", 1},
		{"invalid utf-8", strings.Repeat("ok \xff\xfe line\n", 2000), 0},
	}
	for _, tt := range tests {
		for _, typ := range []MsgType{MsgInteractive, MsgPost, MsgText} {
			t.Run(tt.name+"/"+string(typ), func(t *testing.T) {
				b := Bot{MsgType: typ, Keywords: []string{"告警"}}
				msg := notify.Message{Title: "Disk full", Text: tt.text, Buttons: []notify.Button{details, silence},
					Mentions: notify.Mentions{People: []notify.Person{bo}}}
				rd, err := b.Render(msg)
				if err != nil {
					t.Fatal(err)
				}
				checkParts(t, b, rd, MaxBodyBytes)
				n := len(rd.Parts)
				for i, p := range rd.Parts {
					title, _ := titleText(p)
					if typ == MsgText {
						title, _, _ = strings.Cut(p.Content.Text, "\n")
					}
					if want := fmt.Sprintf("[告警] Disk full (%d/%d)", i+1, n); n > 1 && title != want {
						t.Errorf("part %d title = %q, want %q", i+1, title, want)
					}
					if size := signedSize(t, p); i < n-1 && size < MaxBodyBytes*9/10 && tt.cut == 0 {
						t.Errorf("part %d of %d is only %d bytes: splitting wastes room", i+1, n, size)
					}
				}
				if tt.cut == 0 {
					if len(rd.Notes) != 0 {
						t.Errorf("notes = %q, want none", rd.Notes)
					}
					if got, want := textOf(t, rd), fit.Clean(tt.text); typ != MsgPost && got != want {
						t.Errorf("joined parts differ from the text: lengths %d, %d", len(got), len(want))
					}
					return
				}
				if !hasNote(rd, "cut short") {
					t.Errorf("notes = %q, want one about the cut", rd.Notes)
				}
			})
		}
	}
}

// textOf joins the message text back from a card or text message's parts
// by removing what Render adds after it: the buttons, the mentions and the
// keyword line.
func textOf(t *testing.T, rd Rendered) string {
	t.Helper()
	var chunks []string
	for i, p := range rd.Parts {
		_, text := titleText(p)
		if p.Content != nil {
			_, text, _ = strings.Cut(p.Content.Text, "\n") // the title line
			footer := "\n\nDetails: " + details.URL + "\nSilence 1h: " + silence.URL
			if i == 0 {
				footer += "\n\n<at user_id=\"" + bo.LarkOpenID + "\">Bo</at>"
			}
			text = strings.TrimSuffix(text, footer)
		} else {
			text = strings.TrimSuffix(text, "\n\n[告警]")
			if i == 0 {
				text = strings.TrimSuffix(text, "\n\n<at id="+bo.LarkOpenID+"></at>")
			}
		}
		chunks = append(chunks, text)
	}
	return strings.Join(chunks, "\n")
}

func TestRenderTrimsToMaxParts(t *testing.T) {
	for _, text := range []string{manyLines(20000), strings.Repeat("告警：磁盘已满。\n", 40000)} {
		for _, typ := range []MsgType{MsgInteractive, MsgPost, MsgText} {
			b := Bot{MsgType: typ, Keywords: []string{"告警"}}
			rd, err := b.Render(notify.Message{Title: "Storm", Text: text})
			if err != nil {
				t.Fatal(err)
			}
			checkParts(t, b, rd, MaxBodyBytes)
			if n := len(rd.Parts); n < MaxParts-1 {
				t.Errorf("%s, %d bytes: %d parts, want about %d", typ, len(text), n, MaxParts)
			}
			if !hasNote(rd, "left out") {
				t.Errorf("%s: notes = %q, want one saying what was left out", typ, rd.Notes)
			}
			if _, last := titleText(rd.Parts[len(rd.Parts)-1]); !strings.Contains(last, "bytes were left out") {
				t.Errorf("%s: the last part does not tell the reader the message was cut:\n%s", typ, tail(last))
			}
		}
	}
}

func TestNodesLen(t *testing.T) {
	for _, nodes := range [][]PostNode{
		nil,
		{{Tag: "text", Text: "plain \"quoted\" 告警\n"}},
		{{Tag: "text", Text: "h", Style: []string{"bold"}}, {Tag: "text", Text: "i", Style: []string{"bold", "italic"}}},
		{{Tag: "text", Text: "see "}, {Tag: "a", Text: "graph", Href: "https://g.example/d?x=1&y=<2>"}, {Tag: "text", Text: " now"}},
		{{Tag: "at", UserID: "ou_1", UserName: "Ann"}, {Tag: "text", Text: " "}, {Tag: "at", UserID: "all"}},
	} {
		if got, want := nodesLen(nodes), encodedSize(t, nodes); got != want && len(nodes) > 0 {
			t.Errorf("nodesLen(%+v) = %d, encoding/json writes %d", nodes, got, want)
		}
	}
}

// FuzzRender: whatever the title, text and keyword, Render never panics,
// and what it renders fits the limit once signed, is valid UTF-8, stays
// within MaxParts and carries the keyword; a post paragraph's computed
// length agrees with encoding/json.
func FuzzRender(f *testing.F) {
	f.Add("CPU high", "line 1\nline 2", "告警", uint8(0), uint16(0))
	f.Add("", strings.Repeat("长", 9000), "", uint8(1), uint16(300))
	f.Add("t\n\x00", strings.Repeat("\"\\\u2028\n", 3000), "\n", uint8(2), uint16(50))
	f.Add("😀", strings.Repeat("😀", 7000)+"\n"+strings.Repeat("x\n", 2000), "x", uint8(0), uint16(0))
	f.Add("<at id=all></at>", "[a](https://a.test)\n# h\n"+strings.Repeat("[l](https://e.test/) ", 2000), "a", uint8(1), uint16(900))
	f.Add("\xff", "\xfe\xff", "\xff", uint8(2), uint16(10))
	f.Fuzz(func(t *testing.T, title, text, kw string, typ uint8, limit uint16) {
		types := []MsgType{MsgInteractive, MsgPost, MsgText}
		b := Bot{MsgType: types[int(typ)%len(types)], Keywords: []string{kw}}
		// Small limits split more; 0 means the real one.
		max := MaxBodyBytes
		if limit > 0 {
			max = 200 + int(limit)%MaxBodyBytes
		}
		msg := notify.Message{Title: title, Text: text, Buttons: []notify.Button{details, silence},
			Mentions: notify.Mentions{People: []notify.Person{bo}, All: true}}
		if line, _, _ := strings.Cut(fit.Clean(text), "\n"); strings.TrimSpace(line) != "" {
			if got, want := paragraphLen(line), encodedSize(t, paragraph(line)); got != want {
				t.Fatalf("paragraphLen = %d, encoding/json writes %d", got, want)
			}
		}
		rd, err := b.render(msg, max)
		if err != nil {
			var e *notify.Error
			if !errors.As(err, &e) || e.Code == "internal" {
				t.Fatalf("render: %v", err)
			}
			return
		}
		checkParts(t, b, rd, max)
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

func encodedSize(t testing.TB, v any) int {
	t.Helper()
	n, err := fit.EncodedLen(v)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func signedSize(t testing.TB, p Payload) int {
	t.Helper()
	n, err := signedLen(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
