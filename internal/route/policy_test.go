package route

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the tests name zones; do not depend on the machine's zoneinfo

	"github.com/google/go-cmp/cmp"

	"github.com/tocsinhq/tocsin/internal/problem"
)

// locations compares time zones by name: *time.Location has unexported
// fields go-cmp cannot see.
var locations = cmp.Comparer(func(a, b *time.Location) bool { return a.String() == b.String() })

func decodePolicy(t testing.TB, s string) Policy {
	t.Helper()
	var p Policy
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return p
}

func TestPolicyDefaults(t *testing.T) {
	got := decodePolicy(t, `{"name":" catch-all ","group_wait":""}`)
	want := Policy{
		Name:      "catch-all",
		GroupWait: 30 * time.Second, GroupInterval: 5 * time.Minute, RepeatInterval: 4 * time.Hour,
		SendResolved: true, Mention: MentionNone,
	}
	if diff := cmp.Diff(want, got, locations); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestPolicyJSON(t *testing.T) {
	// The PRODUCT.md §4 example, with one matcher string holding two.
	in := `{"id":"p1","name":"sre","position":10,
		"matchers":["severity=~\"critical|warning\"","{team=\"sre\", env!=dev}"],
		"targets":{"channels":["sre-oncall"],"contact_groups":["sre"]},"group_by":["alertname"],
		"group_wait":"30s","group_interval":"5m","repeat_interval":"1d","send_resolved":false,
		"continue":true,"mute_time_windows":[{"weekdays":["saturday","Sunday","mon"],"times":[{"start":"0:00","end":"24:00"}],"timezone":"Asia/Shanghai"}],
		"mention":"critical"}`
	got := decodePolicy(t, in)
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	want := Policy{
		ID: "p1", Name: "sre", Position: 10,
		Matchers:  ms(t, `severity=~"critical|warning", team="sre", env!="dev"`),
		Targets:   Targets{Channels: []string{"sre-oncall"}, ContactGroups: []string{"sre"}},
		GroupBy:   []string{"alertname"},
		GroupWait: 30 * time.Second, GroupInterval: 5 * time.Minute, RepeatInterval: 24 * time.Hour,
		SendResolved: false, Continue: true,
		MuteTimeWindows: []TimeWindow{{
			Weekdays: WeekdaysOf(time.Saturday, time.Sunday, time.Monday),
			Times:    []TimeRange{{0, 1440}},
			Location: shanghai,
		}},
		Mention: MentionCritical,
	}
	if diff := cmp.Diff(want, got, locations); diff != "" {
		t.Fatalf("decode (-want +got):\n%s", diff)
	}
	out, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	const wantJSON = `{"id":"p1","name":"sre","position":10,` +
		`"matchers":["severity=~\"critical|warning\"","team=\"sre\"","env!=\"dev\""],` +
		`"targets":{"channels":["sre-oncall"],"contact_groups":["sre"]},"group_by":["alertname"],` +
		`"group_wait":"30s","group_interval":"5m","repeat_interval":"1d","send_resolved":false,"continue":true,` +
		`"mute_time_windows":[{"weekdays":["monday","saturday:sunday"],"times":[{"start":"00:00","end":"24:00"}],"timezone":"Asia/Shanghai"}],` +
		`"mention":"critical"}`
	if string(out) != wantJSON {
		t.Errorf("encode:\n got %s\nwant %s", out, wantJSON)
	}
	if back := decodePolicy(t, string(out)); !cmp.Equal(back, got, locations) {
		t.Errorf("round trip: %s", cmp.Diff(got, back, locations))
	}
	// Empty lists encode as [], not null, and the zero mention as none.
	out, _ = json.Marshal(Policy{Name: "x", GroupInterval: time.Minute, RepeatInterval: 90 * time.Minute})
	if want := `{"id":"","name":"x","position":0,"matchers":[],"targets":{"channels":[],"contact_groups":[]},"group_by":[],"group_wait":"0s","group_interval":"1m","repeat_interval":"1h30m","send_resolved":false,"continue":false,"mute_time_windows":[],"mention":"none"}`; string(out) != want {
		t.Errorf("encode zero lists:\n got %s\nwant %s", out, want)
	}
}

func TestPolicyProblems(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string // "field code"
	}{
		{"everything wrong", `{"name":" ","matchers":["team=\"sre\"","team==sre",""],
			"targets":{"channels":["","a","a"]},"group_by":["alertname","...","alertname"],
			"group_wait":"-1s","group_interval":"0s","repeat_interval":"soon",
			"mute_time_windows":[{"weekdays":["funday","monday:someday"],"times":[{"start":"22:00","end":"06:00"},{"start":"9am","end":"25:00"},{"start":"24:00","end":"24:00"}],"timezone":"Mars/Olympus"},{}],
			"mention":"sometimes"}`, []string{
			"matchers[1] invalid-matcher",
			"matchers[2] required",
			"repeat_interval invalid-duration",
			"mute_time_windows[0].weekdays[0] invalid-value",
			"mute_time_windows[0].weekdays[1] invalid-value",
			"mute_time_windows[0].times[1].start invalid-value",
			"mute_time_windows[0].times[1].end invalid-value",
			"mute_time_windows[0].times[2].start invalid-value",
			"mute_time_windows[0].timezone invalid-timezone",
			"name required",
			"targets.channels[0] required",
			"targets.channels[2] duplicate",
			"group_by[2] duplicate",
			"group_by conflict",
			"group_wait out-of-range",
			"group_interval out-of-range",
			"mute_time_windows[0].times[0].end out-of-range",
			"mute_time_windows[1] required",
			"mention invalid-value",
		}},
		{"repeat shorter than interval", `{"name":"x","group_interval":"10m","repeat_interval":"5m"}`, []string{"repeat_interval out-of-range"}},
		{"unknown field", `{"name":"x","group_wiat":"1m"}`, []string{"group_wiat unknown-field"}},
		{"wrong type", `{"name":"x","group_by":"alertname"}`, []string{"group_by invalid-type"}},
		{"wrong nested type", `{"name":"x","mute_time_windows":[{"times":[{"start":900}]}]}`, []string{"mute_time_windows.times.start invalid-type"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p Policy
			err := json.Unmarshal([]byte(tc.in), &p)
			var probs *problem.List
			if !errors.As(err, &probs) {
				t.Fatalf("error = %v (%T), want *problem.List", err, err)
			}
			var got []string
			for _, pr := range probs.Items {
				got = append(got, pr.Field+" "+pr.Code)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s\nall: %v", diff, err)
			}
		})
	}
}

func TestPolicyUnmarshalSyntax(t *testing.T) {
	// json.Unmarshal checks syntax before calling UnmarshalJSON; a caller
	// that calls it directly still gets *problem.List.
	var p Policy
	err := p.UnmarshalJSON([]byte(`{"name":`))
	var probs *problem.List
	if !errors.As(err, &probs) || probs.Items[0].Code != "invalid-json" {
		t.Errorf("UnmarshalJSON(bad JSON) = %v, want *problem.List with invalid-json", err)
	}
}

func TestPolicyProblemMessages(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"name":"x","group_interval":"10m","repeat_interval":"5m"}`,
			"repeat_interval: repeat_interval (5m) is shorter than group_interval (10m); a group is only checked every group_interval, so it could repeat no sooner; set repeat_interval to 10m or more"},
		{`{"name":"x","matchers":["a=1","team==sre"]}`,
			`matchers[1]: matcher "team==sre": unexpected "=" at position 6; "==" is not an operator; write team="sre"`},
		{`{"name":"x","mute_time_windows":[{"times":[{"start":"22:00","end":"06:00"}]}]}`,
			"mute_time_windows[0].times[0].end: end (06:00) must be after start (22:00); a window across midnight is written as two ranges, 22:00–24:00 and 00:00–06:00"},
		{`{"name":"x","group_wait":"5 minutes"}`,
			`group_wait: "5 minutes" is not a duration: write a number and a unit, such as 30s, 5m, 4h or 1d`},
		{`{"name":"x","group_by":"alertname"}`, "group_by: must be a list, not a JSON string"},
	} {
		var p Policy
		if err := json.Unmarshal([]byte(tc.in), &p); err == nil || err.Error() != tc.want {
			t.Errorf("decode %s:\n got %v\nwant %s", tc.in, err, tc.want)
		}
	}
}

func TestDurations(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		out  string
	}{
		{"30s", 30 * time.Second, "30s"},
		{"1.5h", 90 * time.Minute, "1h30m"},
		{"1d", 24 * time.Hour, "1d"},
		{"1d12h", 36 * time.Hour, "1d12h"},
		{"2w", 14 * 24 * time.Hour, "2w"},
		{"500ms", 500 * time.Millisecond, "500ms"},
		{"0", 0, "0s"},
	} {
		got, err := parseDuration(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
		if s := formatDuration(got); s != tc.out {
			t.Errorf("formatDuration(%v) = %q, want %q", got, s, tc.out)
		}
	}
	for _, in := range []string{"", "5", "d", "1y", "1.5d", "99999999999999999999d", "15300w", "15250w1w"} {
		if d, err := parseDuration(in); err == nil {
			t.Errorf("parseDuration(%q) = %v, want an error", in, d)
		}
	}
}

func TestRoute(t *testing.T) {
	p := func(id string, pos int, matchers string, cont bool) Policy {
		return Policy{ID: id, Name: id, Position: pos, Matchers: ms(t, matchers), Continue: cont}
	}
	policies := []Policy{
		p("db", 5, `team="db"`, false),
		p("sre", 10, `team="sre"`, true),
		p("critical", 20, `severity="critical"`, false),
		p("tie-b", 25, `env="x"`, false),
		p("tie-a", 25, `env=~"x|y"`, false),
		p("default", 30, ``, false),
	}
	for _, tc := range []struct {
		name   string
		labels []string
		want   []string
	}{
		{"continue then stop", []string{"team", "sre", "severity", "critical"}, []string{"sre", "critical"}},
		{"continue to catch-all", []string{"team", "sre"}, []string{"sre", "default"}},
		{"first match stops", []string{"team", "db", "severity", "critical"}, []string{"db"}},
		{"catch-all", []string{"alertname", "X"}, []string{"default"}},
		{"tie broken by id", []string{"env", "x"}, []string{"tie-a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ids := func(ps []*Policy) []string {
				var out []string
				for _, p := range ps {
					out = append(out, p.ID)
				}
				return out
			}
			ls := labels(tc.labels...)
			if diff := cmp.Diff(tc.want, ids(Route(policies, ls))); diff != "" {
				t.Errorf("sorted (-want +got):\n%s", diff)
			}
			reversed := make([]Policy, len(policies))
			for i, p := range policies {
				reversed[len(policies)-1-i] = p
			}
			if diff := cmp.Diff(tc.want, ids(Route(reversed, ls))); diff != "" {
				t.Errorf("unsorted (-want +got):\n%s", diff)
			}
		})
	}
	if got := Route(policies[:3], labels("alertname", "X")); got != nil {
		t.Errorf("unmatched alert routed to %v", got)
	}
	if got := Route(policies, labels("team", "sre")); got[0] != &policies[1] {
		t.Error("Route should point into the given slice")
	}
}

func TestGroupKey(t *testing.T) {
	ls := labels("alertname", "DiskFull", "team", "sre", "instance", "db-1")
	for _, tc := range []struct {
		groupBy []string
		want    string
	}{
		{nil, `p1:{}`},
		{[]string{"team", "alertname"}, `p1:{alertname="DiskFull", team="sre"}`},
		{[]string{"alertname", "zone"}, `p1:{alertname="DiskFull"}`},
		{[]string{GroupByAll}, `p1:{alertname="DiskFull", instance="db-1", team="sre"}`},
	} {
		p := Policy{ID: "p1", GroupBy: tc.groupBy}
		if got := p.GroupKey(ls); got != tc.want {
			t.Errorf("GroupKey with group_by %v = %s, want %s", tc.groupBy, got, tc.want)
		}
	}
}

func TestMuted(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	utc := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	weekend := TimeWindow{Weekdays: WeekdaysOf(time.Saturday, time.Sunday), Location: shanghai}
	night := TimeWindow{Times: []TimeRange{{22 * 60, 1440}, {0, 6 * 60}}} // nil Location: UTC
	office := TimeWindow{Weekdays: WeekdaysOf(time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday), Times: []TimeRange{{9 * 60, 17 * 60}}, Location: ny}
	for _, tc := range []struct {
		name string
		w    TimeWindow
		now  string
		want bool
	}{
		{"Friday 23:59 in Shanghai", weekend, "2026-11-20T15:59:00Z", false},
		{"Saturday 00:00 in Shanghai", weekend, "2026-11-20T16:00:00Z", true},
		{"Sunday 23:59 in Shanghai", weekend, "2026-11-22T15:59:00Z", true},
		{"Monday 00:00 in Shanghai", weekend, "2026-11-22T16:00:00Z", false},
		{"21:59", night, "2026-11-20T21:59:00Z", false},
		{"22:00", night, "2026-11-20T22:00:00Z", true},
		{"23:59:59", night, "2026-11-20T23:59:59Z", true},
		{"00:00", night, "2026-11-21T00:00:00Z", true},
		{"05:59", night, "2026-11-21T05:59:00Z", true},
		{"06:00 (end is exclusive)", night, "2026-11-21T06:00:00Z", false},
		{"09:00 EDT", office, "2026-07-06T13:00:00Z", true},
		{"08:59 EDT", office, "2026-07-06T12:59:00Z", false},
		{"09:00 EST", office, "2026-12-07T14:00:00Z", true},
		{"08:00 EST", office, "2026-12-07T13:00:00Z", false},
		{"Saturday 10:00 EST", office, "2026-12-05T15:00:00Z", false},
	} {
		p := Policy{MuteTimeWindows: []TimeWindow{tc.w}}
		if got := p.Muted(utc(tc.now)); got != tc.want {
			t.Errorf("%s: Muted(%s) = %v, want %v", tc.name, tc.now, got, tc.want)
		}
	}
	if (&Policy{}).Muted(time.Now()) {
		t.Error("a policy without windows is muted")
	}
}

func TestTimeWindowsJSON(t *testing.T) {
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	ws := []TimeWindow{
		{Weekdays: WeekdaysOf(time.Saturday, time.Sunday), Location: shanghai},
		{Times: []TimeRange{{22 * 60, 1440}, {0, 6 * 60}}, Location: time.UTC},
		{Weekdays: WeekdaysOf(time.Monday), Times: []TimeRange{{9 * 60, 17*60 + 30}}, Location: shanghai},
	}
	data, err := MarshalTimeWindows(ws)
	if err != nil {
		t.Fatal(err)
	}
	got, err := UnmarshalTimeWindows(data)
	if err != nil {
		t.Fatalf("UnmarshalTimeWindows(%s): %v", data, err)
	}
	if diff := cmp.Diff(ws, got, locations); diff != "" {
		t.Errorf("round trip through %s (-want +got):\n%s", data, diff)
	}
	if data, err := MarshalTimeWindows(nil); err != nil || string(data) != "[]" {
		t.Errorf("MarshalTimeWindows(nil) = %s, %v; want []", data, err)
	}
	if got, err := UnmarshalTimeWindows([]byte("[]")); err != nil || got != nil {
		t.Errorf("UnmarshalTimeWindows([]) = %v, %v; want nil", got, err)
	}
	_, err = UnmarshalTimeWindows([]byte(`[{"weekdays":["monday"]},{"times":[{"start":"10:00","end":"09:00"}],"timezone":"Mars/Base"}]`))
	var probs *problem.List
	if !errors.As(err, &probs) {
		t.Fatalf("UnmarshalTimeWindows of bad windows: error %v, want a problem list", err)
	}
	var fields []string
	for _, p := range probs.Items {
		fields = append(fields, p.Field)
	}
	if want := []string{"mute_time_windows[1].timezone", "mute_time_windows[1].times[0].end"}; !cmp.Equal(want, fields) {
		t.Errorf("problems name %q, want %q", fields, want)
	}
}

func TestWeekdays(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want []string
	}{
		{[]string{"monday:friday"}, []string{"monday:friday"}},
		{[]string{"friday:monday"}, []string{"monday", "friday:sunday"}},
		{[]string{"sunday", "sat", "TUESDAY"}, []string{"tuesday", "saturday:sunday"}},
		{[]string{"monday:sunday"}, []string{"monday:sunday"}},
		{[]string{"sunday:saturday"}, []string{"monday:sunday"}},
		{[]string{"wednesday:wednesday", "monday"}, []string{"monday", "wednesday"}},
	} {
		var w Weekdays
		for _, s := range tc.in {
			d, err := parseWeekdays(s)
			if err != nil {
				t.Fatalf("parseWeekdays(%q): %v", s, err)
			}
			w |= d
		}
		if diff := cmp.Diff(tc.want, w.names()); diff != "" {
			t.Errorf("%v (-want +got):\n%s", tc.in, diff)
		}
	}
}

func FuzzPolicyJSON(f *testing.F) {
	for _, s := range []string{
		`{"name":"x"}`,
		`{"id":"p1","name":"sre","position":10,"matchers":["severity=~\"critical|warning\"","team=\"sre\""],"targets":{"channels":["a"],"contact_groups":["b"]},"group_by":["alertname"],"group_wait":"30s","group_interval":"5m","repeat_interval":"4h","send_resolved":true,"continue":false,"mute_time_windows":[{"weekdays":["saturday","sunday"],"times":[{"start":"00:00","end":"24:00"}],"timezone":"Asia/Shanghai"}],"mention":"none"}`,
		`{"name":"x","group_by":["..."],"repeat_interval":"1d","mute_time_windows":[{"weekdays":["friday:monday"],"timezone":"Local"}]}`,
		`{"name":"x","group_interval":"1.5h","repeat_interval":"2w","mention":"ALWAYS"}`,
		`{"name":"x","mute_time_windows":[{}]}`,
		`null`, `[]`, `{"name":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var p Policy
		if err := json.Unmarshal(data, &p); err != nil {
			var probs *problem.List
			var syntax *json.SyntaxError
			var typeErr *json.UnmarshalTypeError
			if !errors.As(err, &probs) && !errors.As(err, &syntax) && !errors.As(err, &typeErr) {
				t.Fatalf("error %T: %v", err, err)
			}
			return
		}
		if strings.TrimSpace(string(data)) == "null" {
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("decoded policy does not validate: %v", err)
		}
		out, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var back Policy
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("re-decoding %s: %v", out, err)
		}
		if diff := cmp.Diff(p, back, locations); diff != "" {
			t.Fatalf("round trip of %s (-first +second):\n%s", out, diff)
		}
	})
}
