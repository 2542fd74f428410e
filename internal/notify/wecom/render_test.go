package wecom

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
)

// Contacts as Tocsin knows them: with a WeCom user ID, with a mobile only,
// and with neither.
var (
	wang  = notify.Person{Name: "Wang Qing", WeComUserID: "wangqing", Mobile: "13800001111", DingTalkUserID: "manager7675"}
	li    = notify.Person{Name: "Li Si", Mobile: "+86-13900002222"}
	chan_ = notify.Person{Name: "Chan Tai Man", Mobile: "+852-12345678"}
	zhao  = notify.Person{Name: "Zhao Liu", Email: "zhao@example.com", LarkOpenID: "ou_1"}
)

func alertMessage() notify.Message {
	return notify.Message{
		ID:     "d41d8cd9",
		Title:  "[FIRING] HighCPU on web-1",
		Status: alert.Firing,
		Text: "#### HighCPU on web-1\n\n" +
			"**Severity**: critical\n\n" +
			"> CPU above 90% for 5 minutes (\"steal\" < 5% & load > 8)\n\n" +
			"- Since: 2026-08-21 09:00:00 CST\n" +
			"- Where: cn-hangzhou / web-1",
		Buttons: []notify.Button{details},
	}
}

func everyone() notify.Mentions {
	return notify.Mentions{
		People:  []notify.Person{wang, li, chan_, zhao, wang},
		Mobiles: []string{" 13800001111 ", "+8613700003333"},
		UserIDs: []string{"user123"},
		All:     true,
	}
}

func TestRenderGolden(t *testing.T) {
	cjk := strings.Repeat("告警：主机 web-1 的 CPU 使用率超过 90%，请尽快处理。🔥\n", 12)
	tests := []struct {
		name  string
		robot Robot
		msg   func(m *notify.Message)
		limit int // 0: the type's limit
	}{
		{name: "markdown"},
		{name: "markdown-resolved", msg: func(m *notify.Message) {
			m.Title, m.Status = "[RESOLVED] HighCPU on web-1", alert.Resolved
		}},
		{name: "markdown-no-status", msg: func(m *notify.Message) { m.Status = "" }},
		{name: "markdown-no-title", msg: func(m *notify.Message) { m.Title = "" }},
		{name: "markdown-buttons", msg: func(m *notify.Message) {
			m.Buttons = []notify.Button{details, silence, claim,
				{Title: "Runbook (wiki)", URL: "https://wiki.example/Run book_(CPU)"},
				{Title: "No link"},
				{URL: "https://tocsin.example/untitled"}}
		}},
		{name: "markdown-mentions", msg: func(m *notify.Message) { m.Mentions = everyone() }},
		{name: "text", robot: Robot{MsgType: MsgText}, msg: func(m *notify.Message) { m.Buttons = []notify.Button{details, silence} }},
		{name: "text-mentions", robot: Robot{MsgType: MsgText}, msg: func(m *notify.Message) { m.Mentions = everyone() }},
		{name: "text-no-title", robot: Robot{MsgType: MsgText}, msg: func(m *notify.Message) { m.Title = "" }},
		{name: "markdown-v2", robot: Robot{MsgType: MsgMarkdownV2}, msg: func(m *notify.Message) {
			m.Text += "\n\n| host | cpu |\n|---|---|\n| web-1 | 93% |"
			m.Buttons = []notify.Button{details, silence}
		}},
		{name: "markdown-v2-mentions", robot: Robot{MsgType: MsgMarkdownV2}, msg: func(m *notify.Message) { m.Mentions = everyone() }},
		{name: "split", limit: 600, msg: func(m *notify.Message) {
			m.Title = "Disk full on 3 hosts"
			m.Text = cjk + strings.Repeat("x", 700)
			m.Mentions = notify.Mentions{People: []notify.Person{wang}}
		}},
		{name: "split-text", robot: Robot{MsgType: MsgText}, limit: 600, msg: func(m *notify.Message) {
			m.Title = "Disk full on 3 hosts"
			m.Text = cjk
			m.Mentions = notify.Mentions{People: []notify.Person{wang, li}, All: true}
		}},
		{name: "trimmed", limit: 300, msg: func(m *notify.Message) {
			m.Title = "Storm"
			m.Text = cjk + cjk
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
				limit = tt.robot.msgType().limit()
			}
			rd, err := tt.robot.render(msg, limit)
			if err != nil {
				t.Fatal(err)
			}
			checkParts(t, rd, limit)
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

// checkParts asserts what Render promises of every part: one content
// object of the robot's type, within the limit, valid UTF-8, and mentions
// on the first part only.
func checkParts(t *testing.T, rd Rendered, limit int) {
	t.Helper()
	if len(rd.Parts) == 0 || len(rd.Parts) > MaxParts {
		t.Fatalf("%d parts, want 1 to %d", len(rd.Parts), MaxParts)
	}
	for i, p := range rd.Parts {
		objects := 0
		for _, set := range []bool{p.Text != nil, p.Markdown != nil, p.MarkdownV2 != nil} {
			if set {
				objects++
			}
		}
		if objects != 1 || p.MsgType.limit() == 0 {
			t.Fatalf("part %d: msgtype %q with %d content objects", i+1, p.MsgType, objects)
		}
		c := p.content()
		if len(c) > limit {
			t.Errorf("part %d: content is %d bytes, over %d", i+1, len(c), limit)
		}
		if strings.TrimSpace(c) == "" {
			t.Errorf("part %d: content is blank", i+1)
		}
		if !utf8.ValidString(c) {
			t.Errorf("part %d: content is not valid UTF-8", i+1)
		}
		if i > 0 && p.Text != nil && (p.Text.MentionedList != nil || p.Text.MentionedMobileList != nil) {
			t.Errorf("part %d mentions again: %q %q", i+1, p.Text.MentionedList, p.Text.MentionedMobileList)
		}
	}
}

// TestRenderMentions: who is mentioned, how, and what the notes say, for
// each message type.
func TestRenderMentions(t *testing.T) {
	tests := []struct {
		typ         MsgType
		wantList    []string
		wantMobiles []string
		wantLine    string // the markdown mention line, "" for none
		wantNotes   []string
	}{
		{
			typ:         MsgText,
			wantList:    []string{"wangqing", "@all"},
			wantMobiles: []string{"13900002222", "+852-12345678", "13800001111", "13700003333"},
			wantNotes: []string{
				"mentions: no valid WeCom user ID or mobile for Zhao Liu, so they were not notified",
				"mentions: 1 DingTalk user ID(s) mean nothing to WeCom and were left out",
			},
		},
		{
			typ:      MsgMarkdown,
			wantLine: "<@wangqing>",
			wantNotes: []string{
				"mentions: no valid WeCom user ID or mobile for Zhao Liu, so they were not notified",
				"mentions: 1 DingTalk user ID(s) mean nothing to WeCom and were left out",
				"mentions: WeCom markdown mentions by user ID only, so Li Si, Chan Tai Man, 13800001111, 13700003333 (known by mobile) were not notified; give them a WeCom user ID, or choose text for the channel",
				"mentions: WeCom markdown cannot mention everyone (@all works in text messages only), so @all was left out",
			},
		},
		{
			typ:       MsgMarkdownV2,
			wantNotes: []string{"mentions: WeCom markdown_v2 messages cannot mention anyone, so nobody was notified; choose markdown or text for the channel"},
		},
	}
	for _, tt := range tests {
		t.Run(string(tt.typ), func(t *testing.T) {
			msg := alertMessage()
			msg.Mentions = everyone()
			rd, err := Robot{MsgType: tt.typ}.Render(msg)
			if err != nil {
				t.Fatal(err)
			}
			p := rd.Parts[0]
			var list, mobiles []string
			if p.Text != nil {
				list, mobiles = p.Text.MentionedList, p.Text.MentionedMobileList
			}
			if diff := cmp.Diff(tt.wantList, list); diff != "" {
				t.Errorf("mentioned_list (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantMobiles, mobiles); diff != "" {
				t.Errorf("mentioned_mobile_list (-want +got):\n%s", diff)
			}
			content := p.content()
			if tt.wantLine != "" && !strings.HasSuffix(content, "\n\n"+tt.wantLine) {
				t.Errorf("content does not end with the mention line %q:\n%s", tt.wantLine, content)
			}
			if tt.wantLine == "" && strings.Contains(content, "<@") {
				t.Errorf("content writes a mention:\n%s", content)
			}
			if diff := cmp.Diff(tt.wantNotes, rd.Notes); diff != "" {
				t.Errorf("notes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRenderNoMentionsNoNotes(t *testing.T) {
	for _, typ := range []MsgType{MsgMarkdown, MsgText, MsgMarkdownV2} {
		rd, err := Robot{MsgType: typ}.Render(alertMessage())
		if err != nil {
			t.Fatal(err)
		}
		if len(rd.Notes) != 0 {
			t.Errorf("%s: notes = %q, want none", typ, rd.Notes)
		}
		if p := rd.Parts[0]; p.Text != nil && (p.Text.MentionedList != nil || p.Text.MentionedMobileList != nil) {
			t.Errorf("%s: mentions %+v, want none", typ, p.Text)
		}
	}
}

func TestValidUserID(t *testing.T) {
	for id, want := range map[string]bool{
		"wangqing":               true,
		"Li.Si-2@corp_x":         true,
		"0abc":                   true,
		"":                       false,
		"_lead":                  false,
		"@all":                   false,
		"wang qing":              false,
		"a>b":                    false,
		"王青":                     false,
		strings.Repeat("a", 64):  true,
		strings.Repeat("a", 65):  false,
		"user\n<@all>":           false,
		"ou_7d8a6e6df7621556ce0": true, // a Lark open ID has the shape; WeCom decides
	} {
		if got := validUserID(id); got != want {
			t.Errorf("validUserID(%q) = %t, want %t", id, got, want)
		}
	}
}

func TestMobileNumber(t *testing.T) {
	for in, want := range map[string]string{
		"13800001111":      "13800001111",
		" 13800001111\t":   "13800001111",
		"+86-13800001111":  "13800001111",
		"+86 13800001111":  "13800001111",
		"+8613800001111":   "13800001111",
		"+852-12345678":    "+852-12345678",
		"+861-5550100":     "1-5550100", // not a real code; "+86" is taken as China's
		"":                 "",
		"  ":               "",
		"\xff13800001111":  "\uFFFD13800001111",
		"+1 (555) 0100-01": "+1 (555) 0100-01",
	} {
		if got := mobileNumber(in); got != want {
			t.Errorf("mobileNumber(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRenderErrors(t *testing.T) {
	var crowd []notify.Person
	for i := range 400 {
		crowd = append(crowd, notify.Person{WeComUserID: fmt.Sprintf("user-%03d", i)})
	}
	tests := []struct {
		name  string
		robot Robot
		msg   notify.Message
		code  string
	}{
		{"empty", Robot{}, notify.Message{}, "empty-message"},
		{"blank", Robot{}, notify.Message{Title: " \n", Text: "\n\n", Buttons: []notify.Button{{Title: "no URL"}}}, "empty-message"},
		{"unknown type", Robot{MsgType: "news"}, alertMessage(), "unsupported-message-type"},
		{"buttons too long", Robot{}, notify.Message{Title: "t", Text: strings.Repeat("x\n", 3000),
			Buttons: []notify.Button{{Title: "b", URL: "https://e.test/" + strings.Repeat("q", 4000)}}}, "message-unsplittable"},
		{"too many mentions", Robot{}, notify.Message{Title: "t", Text: strings.Repeat("x\n", 3000), Mentions: notify.Mentions{People: crowd}}, "message-unsplittable"},
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

// TestRenderSplit renders long texts at the real limits and checks that
// every part fits, that parts are numbered, that nothing is lost but the
// end of lines too long for a part, and that parts are well filled (the
// size accounting is exact, not just safe).
func TestRenderSplit(t *testing.T) {
	emojiLine := strings.Repeat("🔥👨‍👩‍👧 ", 20)
	tests := []struct {
		name string
		text string
		cut  int // lines cut short
	}{
		// Each text splits into several parts but no more than MaxParts
		// of text (2048 bytes).
		{"cjk", strings.Repeat("告警：主机 web-1 的 CPU 使用率超过 90%。\n", 120), 0},
		{"emoji", strings.Repeat(emojiLine+"\n", 20), 0},
		{"escapes", strings.Repeat(`"quoted" \path\ <tag> & `+"\ttab \x01 \u2028\n", 150), 0},
		{"many lines", manyLines(120), 0},
		{"blank lines", strings.Repeat("para\n\n\n", 900), 0},
		{"one huge cjk line", strings.Repeat("长", 1500), 1},
		{"one huge emoji line", strings.Repeat("😀", 1200), 1},
		{"huge line between", "first\n" + strings.Repeat("é", 2500) + "\nlast", 1},
		{"invalid utf-8", strings.Repeat("ok \xff\xfe line\n", 400), 0},
	}
	for _, tt := range tests {
		for _, typ := range []MsgType{MsgMarkdown, MsgText, MsgMarkdownV2} {
			t.Run(tt.name+"/"+string(typ), func(t *testing.T) {
				r := Robot{MsgType: typ}
				msg := notify.Message{Title: "Disk full", Status: alert.Firing, Text: tt.text, Buttons: []notify.Button{details, silence}}
				if typ != MsgMarkdownV2 { // which cannot mention, and would say so in a note
					msg.Mentions.People = []notify.Person{wang}
				}
				rd, err := r.Render(msg)
				if err != nil {
					t.Fatal(err)
				}
				limit := typ.limit()
				checkParts(t, rd, limit)

				n := len(rd.Parts)
				if n < 2 && tt.cut == 0 {
					t.Fatalf("%d part(s), want a split", n)
				}
				var chunks []string
				for i, p := range rd.Parts {
					title, chunk := titleChunk(t, typ, p.content(), i == 0)
					want := fmt.Sprintf("Disk full (%d/%d)", i+1, n)
					if n == 1 {
						want = "Disk full"
					}
					if title != want {
						t.Errorf("part %d title = %q, want %q", i+1, title, want)
					}
					chunks = append(chunks, chunk)
					if size := len(p.content()); i < n-1 && size < limit*9/10 && tt.cut == 0 {
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
				for line := range strings.SplitSeq(got, "\n") {
					if kept, ok := strings.CutSuffix(line, fit.Ellipsis); ok && !strings.Contains(want, kept) {
						t.Errorf("cut line %.40q… is not from the text", kept)
					}
				}
			})
		}
	}
}

func TestRenderExactFit(t *testing.T) {
	// A content of exactly the limit is one part; one byte more is two.
	for _, typ := range []MsgType{MsgText, MsgMarkdown} {
		r := Robot{MsgType: typ}
		base, err := r.Render(notify.Message{Title: "t", Text: "x"})
		if err != nil {
			t.Fatal(err)
		}
		fill := typ.limit() - len(base.Parts[0].content()) + 1
		for extra, parts := range []int{1, 2} {
			rd, err := r.Render(notify.Message{Title: "t", Text: strings.Repeat("x", fill) + strings.Repeat("\ny", extra)})
			if err != nil {
				t.Fatal(err)
			}
			if extra == 0 && len(rd.Parts[0].content()) != typ.limit() {
				t.Errorf("%s: content is %d bytes, want exactly %d", typ, len(rd.Parts[0].content()), typ.limit())
			}
			if len(rd.Parts) != parts {
				t.Errorf("%s with %d extra line(s): %d parts, want %d", typ, extra, len(rd.Parts), parts)
			}
		}
	}
}

func TestRenderTrimsToMaxParts(t *testing.T) {
	for _, text := range []string{manyLines(2000), strings.Repeat("告警：磁盘已满。\n", 4000)} {
		for _, typ := range []MsgType{MsgMarkdown, MsgText, MsgMarkdownV2} {
			rd, err := Robot{MsgType: typ}.Render(notify.Message{Title: "Storm", Text: text})
			if err != nil {
				t.Fatal(err)
			}
			checkParts(t, rd, typ.limit())
			if len(rd.Parts) != MaxParts {
				t.Errorf("%s, %d bytes: %d parts, want %d", typ, len(text), len(rd.Parts), MaxParts)
			}
			if !hasNote(rd, "left out") {
				t.Errorf("%s: notes = %q, want one saying what was left out", typ, rd.Notes)
			}
			last := rd.Parts[len(rd.Parts)-1].content()
			if !strings.Contains(last, "bytes were left out") {
				t.Errorf("%s: the last part does not tell the reader the message was cut:\n…%s", typ, tail(last))
			}
			if size := len(last); size < typ.limit()*8/10 {
				t.Errorf("%s: the last part is only %d bytes: trimming wastes room", typ, size)
			}
		}
	}
}

// FuzzRender: whatever the title, text and mentions, Render never panics
// and what it renders fits the limit, is valid UTF-8 and mentions on the
// first part only.
func FuzzRender(f *testing.F) {
	f.Add("CPU high", "line 1\nline 2", "wangqing", "13800001111", uint8(0), uint16(0))
	f.Add("", strings.Repeat("长", 3000), "", "", uint8(1), uint16(300))
	f.Add("t\n\x00", strings.Repeat("\"\\\u2028\n", 3000), "a>b", "+86-1", uint8(2), uint16(50))
	f.Add("😀", strings.Repeat("😀", 7000)+"\n"+strings.Repeat("x\n", 2000), "x", "+852-1", uint8(3), uint16(0))
	f.Add("\xff", "\xfe\xff", "\xff", "\xff", uint8(4), uint16(10))
	f.Fuzz(func(t *testing.T, title, text, userID, mobile string, typ uint8, limit uint16) {
		types := []MsgType{MsgMarkdown, MsgText, MsgMarkdownV2}
		r := Robot{MsgType: types[int(typ)%len(types)]}
		// Small limits split more; 0 means the real one.
		max := r.msgType().limit()
		if limit > 0 {
			max = 100 + int(limit)%max
		}
		msg := notify.Message{Title: title, Text: text, Status: alert.Firing, Buttons: []notify.Button{details, silence},
			Mentions: notify.Mentions{People: []notify.Person{{Name: "p", WeComUserID: userID, Mobile: mobile}}, All: typ%2 == 0}}
		rd, err := r.render(msg, max)
		if err != nil {
			var e *notify.Error
			if !errors.As(err, &e) || e.Code == "internal" {
				t.Fatalf("render: %v", err)
			}
			return
		}
		checkParts(t, rd, max)
		for i, p := range rd.Parts[1:] {
			if r.msgType() == MsgMarkdown && strings.Count(p.content(), "<@") > strings.Count(text, "<@")+strings.Count(title, "<@") {
				t.Errorf("part %d writes a mention", i+2)
			}
		}
	})
}

func manyLines(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "- alert %d: disk /dev/sda%d at 9%d%% on host-%d\n", i, i%9, i%10, i)
	}
	return b.String()
}

// titleChunk takes apart a part's content as Render wrote it for msgtype
// typ with the buttons details and silence and, on the first part, a
// mention of wang: it returns the title and the chunk of text.
func titleChunk(t *testing.T, typ MsgType, content string, first bool) (title, chunk string) {
	t.Helper()
	rest := content
	if first && typ == MsgMarkdown {
		var ok bool
		if rest, ok = strings.CutSuffix(rest, "\n\n<@wangqing>"); !ok {
			t.Fatalf("first part lacks the mentions: …%q", tail(content))
		}
	}
	footer := "\n\n[Details](" + details.URL + ") | [Silence 1h](" + silence.URL + ")"
	if typ == MsgText {
		footer = "\n\nDetails: " + details.URL + "\nSilence 1h: " + silence.URL
	}
	rest, ok := strings.CutSuffix(rest, footer)
	if !ok {
		t.Fatalf("part lacks the buttons: …%q", tail(content))
	}
	switch typ {
	case MsgText:
		title, chunk, _ = strings.Cut(rest, "\n")
		return title, chunk
	case MsgMarkdown:
		title, chunk, _ = strings.Cut(rest, "\n\n")
		return strings.TrimSuffix(strings.TrimPrefix(title, `<font color="warning">**`), `**</font>`), chunk
	}
	title, chunk, _ = strings.Cut(rest, "\n\n")
	return strings.Trim(title, "*"), chunk
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
