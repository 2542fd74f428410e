package template

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/notify"
	"github.com/tocsinhq/tocsin/internal/notify/fit"
)

func TestRenderDigestGolden(t *testing.T) {
	items := storm(2000)
	tests := []struct {
		name string
		lim  DigestLimits
		// listedAll: every alert must be named.
		listedAll bool
		// minMsgs, maxMsgs bound the messages it takes.
		minMsgs, maxMsgs int
	}{
		// About 2,000 alerts over 50 alertnames fit in 5–8 DingTalk-sized
		// messages, every alert named.
		{name: "digest-2000", lim: DigestLimits{MaxBytes: 20000, MaxMessages: 8}, listedAll: true, minMsgs: 5, maxMsgs: 8},
		// Too little room: most alerts are only counted.
		{name: "digest-tight", lim: DigestLimits{MaxBytes: 4000, MaxMessages: 2}, minMsgs: 2, maxMsgs: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs, listed := RenderDigest(items, shanghai(t), tt.lim)
			checkDigest(t, items, tt.lim, msgs, listed)
			if n := len(msgs); n < tt.minMsgs || n > tt.maxMsgs {
				t.Errorf("%d messages, want %d to %d", n, tt.minMsgs, tt.maxMsgs)
			}
			if tt.listedAll && len(listed) != len(items) {
				t.Errorf("%d of %d alerts listed, want all", len(listed), len(items))
			}
			if !tt.listedAll && len(listed) == len(items) {
				t.Errorf("all %d alerts listed; the case is meant to count some", len(items))
			}
			golden(t, tt.name, show(msgs...))
		})
	}
}

// TestRenderDigestLimits checks the digest's promises over many limits,
// sizes of storm and ways of counting bytes.
func TestRenderDigestLimits(t *testing.T) {
	storms := map[int][]DigestItem{}
	for _, n := range []int{1, 2, 7, 60, 400, 2000} {
		storms[n] = storm(n)
	}
	sizes := map[string]func(string) int{"bytes": nil, "json": fit.JSONLen}
	for _, n := range []int{1, 2, 7, 60, 400, 2000} {
		for _, maxBytes := range []int{0, 150, 400, 1000, 2500, 6000, 20000} {
			for _, maxMsgs := range []int{0, 1, 2, 3, 8} {
				for sizeName, size := range sizes {
					lim := DigestLimits{MaxBytes: maxBytes, MaxMessages: maxMsgs, Size: size}
					name := fmt.Sprintf("n=%d/bytes=%d/msgs=%d/%s", n, maxBytes, maxMsgs, sizeName)
					t.Run(name, func(t *testing.T) {
						msgs, listed := RenderDigest(storms[n], shanghai(t), lim)
						checkDigest(t, storms[n], lim, msgs, listed)
					})
				}
			}
		}
	}
}

var (
	moreLine    = regexp.MustCompile(`^- … and (\d+) more$`)
	compactLine = regexp.MustCompile(`^- (?:🔥|✅) \*\*.*\*\* · .*?(\d+) (?:firing|resolved), none listed$`)
	othersLine  = regexp.MustCompile(`^\*\*… \d+ (?:more )?kinds? of alert\*\*: (\d+) alerts`)
	totalLine   = regexp.MustCompile(`^\*\*Total\*\*: (\d+) alerts .* · (\d+) listed here, (\d+) counted`)
	titleLine   = regexp.MustCompile(`^\[DIGEST (\d+)/(\d+)\] (\d+) alerts: `)
)

// checkDigest checks what RenderDigest promises: limits held, titles that
// place each message, each alert carried by exactly one message, and
// every alert either named on a line or counted, exactly once.
func checkDigest(t *testing.T, items []DigestItem, lim DigestLimits, msgs []notify.Message, listed []int) {
	t.Helper()
	size := lim.Size
	if size == nil {
		size = func(s string) int { return len(s) }
	}
	if len(msgs) == 0 {
		t.Fatal("no message")
	}
	if lim.MaxMessages > 0 && len(msgs) > lim.MaxMessages {
		t.Errorf("%d messages, over %d", len(msgs), lim.MaxMessages)
	}
	if !slices.IsSorted(listed) || len(slices.Compact(slices.Clone(listed))) != len(listed) {
		t.Errorf("listed is not strictly increasing: %v", listed)
	}
	status := map[alert.Fingerprint]alert.Status{}
	for _, it := range items {
		status[it.Alert.Fingerprint] = it.Status
	}
	isListed := map[alert.Fingerprint]bool{}
	for _, i := range listed {
		if i < 0 || i >= len(items) {
			t.Fatalf("listed index %d out of range", i)
		}
		isListed[items[i].Alert.Fingerprint] = true
	}

	carried := map[alert.Fingerprint]int{}
	lines, counted, totals := 0, 0, 0
	for k, m := range msgs {
		if n := size(m.Text); lim.MaxBytes > 0 && n > lim.MaxBytes {
			t.Errorf("message %d: text is %d bytes, over %d", k+1, n, lim.MaxBytes)
		}
		if !utf8.ValidString(m.Text) {
			t.Errorf("message %d: text is not valid UTF-8", k+1)
		}
		if g := titleLine.FindStringSubmatch(m.Title); g == nil || g[1] != strconv.Itoa(k+1) || g[2] != strconv.Itoa(len(msgs)) || g[3] != strconv.Itoa(len(items)) {
			t.Errorf("message %d: title %q does not say [DIGEST %d/%d] %d alerts", k+1, m.Title, k+1, len(msgs), len(items))
		}
		firing, listedHere := false, 0
		for _, a := range m.Alerts {
			carried[a.Fingerprint]++
			if isListed[a.Fingerprint] {
				listedHere++
			}
			firing = firing || status[a.Fingerprint] == alert.Firing
		}
		if want := map[bool]alert.Status{true: alert.Firing, false: alert.Resolved}[firing]; m.Status != want {
			t.Errorf("message %d: status %q, want %q", k+1, m.Status, want)
		}
		linesHere := 0
		for line := range strings.SplitSeq(m.Text, "\n") {
			if g := moreLine.FindStringSubmatch(line); g != nil {
				counted += atoi(t, g[1])
			} else if g := compactLine.FindStringSubmatch(line); g != nil {
				counted += atoi(t, g[1])
			} else if g := othersLine.FindStringSubmatch(line); g != nil {
				counted += atoi(t, g[1])
			} else if g := totalLine.FindStringSubmatch(line); g != nil {
				totals++
				if atoi(t, g[1]) != len(items) || atoi(t, g[2]) != len(listed) || atoi(t, g[3]) != len(items)-len(listed) {
					t.Errorf("totals line %q, want %d alerts, %d listed", line, len(items), len(listed))
				}
			} else if strings.HasPrefix(line, "- ") {
				linesHere++
			}
		}
		if linesHere != listedHere {
			t.Errorf("message %d: %d alert lines but carries %d listed alerts", k+1, linesHere, listedHere)
		}
		lines += linesHere
	}
	for _, it := range items {
		if n := carried[it.Alert.Fingerprint]; n != 1 {
			t.Errorf("alert %s carried by %d messages, want 1", it.Alert.Fingerprint, n)
		}
	}
	if lines != len(listed) {
		t.Errorf("%d alert lines, but %d listed", lines, len(listed))
	}
	if lines+counted != len(items) {
		t.Errorf("%d listed + %d counted = %d, want every one of %d accounted for once", lines, counted, lines+counted, len(items))
	}
	if totals != 1 && lim.MaxBytes == 0 || totals > 1 {
		t.Errorf("%d totals lines, want 1", totals)
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRenderDigestEmpty(t *testing.T) {
	msgs, listed := RenderDigest(nil, shanghai(t), DigestLimits{MaxBytes: 20000})
	if msgs != nil || listed != nil {
		t.Errorf("RenderDigest(nil) = %v, %v; want nothing", msgs, listed)
	}
}

// TestRenderDigestOrder puts firing before resolved, critical before
// warning, and the larger section first within a severity.
func TestRenderDigestOrder(t *testing.T) {
	var items []DigestItem
	add := func(name, sev string, status alert.Status, n int) {
		for i := range n {
			a := mk([]string{"alertname", name, "severity", sev, "instance", fmt.Sprintf("h%d", i)}, nil, t0)
			items = append(items, DigestItem{Alert: a, Status: status})
		}
	}
	add("InfoBig", "info", alert.Firing, 9)
	add("CritResolved", "critical", alert.Resolved, 5)
	add("WarnSmall", "warning", alert.Firing, 2)
	add("WarnBig", "warning", alert.Firing, 4)
	add("Crit", "critical", alert.Firing, 1)
	msgs, _ := RenderDigest(items, shanghai(t), DigestLimits{})
	var got []string
	for line := range strings.SplitSeq(msgs[0].Text, "\n") {
		if strings.HasPrefix(line, "**🔥 ") || strings.HasPrefix(line, "**✅ ") {
			got = append(got, strings.SplitN(line, "**", 3)[1])
		}
	}
	want := []string{"🔥 Crit", "🔥 WarnBig", "🔥 WarnSmall", "🔥 InfoBig", "✅ CritResolved"}
	if !slices.Equal(got, want) {
		t.Errorf("sections %q, want %q", got, want)
	}
}

// TestRenderDigestFair lists a small section whole when a large one must
// be cut short, rather than spending everything on the first section.
func TestRenderDigestFair(t *testing.T) {
	var items []DigestItem
	for i := range 500 {
		items = append(items, DigestItem{Status: alert.Firing, Alert: mk([]string{"alertname", "Big", "severity", "critical", "instance", fmt.Sprintf("h%03d", i)}, nil, t0)})
	}
	for i := range 3 {
		items = append(items, DigestItem{Status: alert.Firing, Alert: mk([]string{"alertname", "Small", "severity", "info", "instance", fmt.Sprintf("s%d", i)}, nil, t0)})
	}
	lim := DigestLimits{MaxBytes: 3000, MaxMessages: 1}
	msgs, listed := RenderDigest(items, shanghai(t), lim)
	checkDigest(t, items, lim, msgs, listed)
	for i := 500; i < 503; i++ {
		if !slices.Contains(listed, i) {
			t.Errorf("small section's alert %d not listed:\n%s", i, msgs[0].Text)
		}
	}
	if len(listed) < 50 {
		t.Errorf("only %d listed in 3000 bytes", len(listed))
	}
}

// TestRenderDigestTellsApart shows only the labels that differ within a
// section, and a summary they share once.
func TestRenderDigestTellsApart(t *testing.T) {
	var items []DigestItem
	for i := range 4 {
		a := mk([]string{"alertname", "BackupLate", "severity", "warning", "instance", fmt.Sprintf("db-%d:9100", i), "job", "node", "env", "prod"},
			[]string{"summary", "Nightly backup has not finished"}, t0)
		items = append(items, DigestItem{Alert: a, Status: alert.Firing})
	}
	msgs, _ := RenderDigest(items, shanghai(t), DigestLimits{})
	want := "**🔥 BackupLate** · warning · 4 firing · by instance\n\n> Nightly backup has not finished\n\n- db-0:9100 · 10:01\n- db-1:9100 · 10:01"
	if !strings.Contains(msgs[0].Text, want) {
		t.Errorf("text lacks\n%s\nin\n%s", want, msgs[0].Text)
	}
}

func TestTelling(t *testing.T) {
	ls := func(kv ...string) alert.Labels { return mk(kv, nil, t0).Labels }
	tests := []struct {
		name string
		sets []alert.Labels
		want []string
	}{
		{"one alert", []alert.Labels{ls("alertname", "A")}, nil},
		{"instance tells them apart", []alert.Labels{
			ls("alertname", "A", "instance", "a", "pod", "p1", "zone", "z1"),
			ls("alertname", "A", "instance", "b", "pod", "p2", "zone", "z2"),
		}, []string{"instance"}},
		{"where-label, then the rest", []alert.Labels{
			ls("alertname", "A", "instance", "a", "disk", "sda"),
			ls("alertname", "A", "instance", "a", "disk", "sdb"),
			ls("alertname", "A", "instance", "b", "disk", "sda"),
		}, []string{"instance", "disk"}},
		{"alertname first, severity never", []alert.Labels{
			ls("alertname", "A", "severity", "critical", "instance", "a"),
			ls("alertname", "B", "severity", "warning", "instance", "a"),
		}, []string{"alertname"}},
		{"at most three", []alert.Labels{
			ls("a", "1", "b", "1", "c", "1", "d", "1"),
			ls("a", "2", "b", "1", "c", "1", "d", "1"),
			ls("a", "1", "b", "2", "c", "1", "d", "1"),
			ls("a", "1", "b", "1", "c", "2", "d", "1"),
			ls("a", "1", "b", "1", "c", "1", "d", "2"),
		}, []string{"a", "b", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := telling(tt.sets); !slices.Equal(got, tt.want) {
				t.Errorf("telling = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestRenderDigestSqueezed holds the limit even when it is too small for
// the totals: one message, cut, carrying every alert.
func TestRenderDigestSqueezed(t *testing.T) {
	items := storm(60)
	for _, maxBytes := range []int{1, 60, 120} {
		msgs, listed := RenderDigest(items, shanghai(t), DigestLimits{MaxBytes: maxBytes, MaxMessages: 3})
		if len(msgs) != 1 || len(listed) != 0 {
			t.Fatalf("MaxBytes %d: %d messages, %d listed; want 1 message listing none", maxBytes, len(msgs), len(listed))
		}
		if n := len(msgs[0].Text); n > maxBytes || !utf8.ValidString(msgs[0].Text) {
			t.Errorf("MaxBytes %d: text is %d bytes or invalid: %q", maxBytes, n, msgs[0].Text)
		}
		if len(msgs[0].Alerts) != len(items) || msgs[0].Title != "[DIGEST 1/1] 60 alerts: 55 firing, 5 resolved" {
			t.Errorf("MaxBytes %d: %d alerts, title %q", maxBytes, len(msgs[0].Alerts), msgs[0].Title)
		}
	}
}

func TestShortSummaries(t *testing.T) {
	tests := []struct {
		name   string
		sums   []string
		idents [][]string
		common string
		each   []string
	}{
		{"shared", []string{"Backup late", "Backup late"}, [][]string{{"db-1"}, {"db-2"}}, "Backup late", []string{"", ""}},
		{"names and shared words dropped",
			[]string{"HighCPU on web-1: 93% for 5m", "HighCPU on web-2:9100: 91% for 7m"}, [][]string{{"web-1:9100"}, {"web-2:9100"}},
			"", []string{"93% for 5m", "91% for 7m"}},
		{"only names differ", []string{"Pod payments/api-1 restarts", "Pod payments/api-2 restarts"}, [][]string{{"api-1"}, {"api-2"}},
			"e.g. Pod payments/api-1 restarts", []string{"", ""}},
		{"plain words are not names", []string{"Too many nodes down: 3", "Too many nodes down: 4"}, [][]string{{"node"}, {"node"}},
			"", []string{"3", "4"}},
		{"one empty", []string{"", "Disk 97% full"}, [][]string{{"a"}, {"b"}}, "", []string{"", "Disk 97% full"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			common, each := shortSummaries(tt.sums, "HighCPU", tt.idents)
			if common != tt.common || !slices.Equal(each, tt.each) {
				t.Errorf("shortSummaries = %q, %q; want %q, %q", common, each, tt.common, tt.each)
			}
		})
	}
}
