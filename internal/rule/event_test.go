package rule

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/intake"
	"github.com/tocsinhq/tocsin/internal/problem"
)

var eventTime = time.Date(2026, 11, 21, 8, 52, 3, 0, time.UTC)

// ecsEvent is an Aliyun ECS state change, as intake decodes it.
func ecsEvent(state string, level alert.Severity) *intake.Event {
	return &intake.Event{
		Source:   "aliyun.ecs",
		Type:     "Instance:StateChange",
		Level:    level,
		Resource: "i-bp67acfmxazb4p",
		Region:   "cn-hangzhou",
		Time:     eventTime,
		Content:  json.RawMessage(`{"instanceId":"i-bp67acfmxazb4p","currentState":"` + state + `","attempts":3,"spot":false,"tags":{"app":"web"},"note":null}`),
		Labels:   alert.Labels{{Name: "env", Value: "prod"}},
	}
}

func TestFieldMatchHolds(t *testing.T) {
	stopped := ecsEvent("Stopped", alert.Warning)
	text := &intake.Event{Source: "self", Type: "DiskReplaced", Level: alert.Info, Resource: "disk-1", Content: json.RawMessage(`"disk replaced\nno data lost"`)}
	tests := []struct {
		name string
		e    *intake.Event
		c    FieldMatch
		want bool
	}{
		{"equal", stopped, FieldMatch{Field: "type", Op: "=", Value: "Instance:StateChange"}, true},
		{"empty op is equal", stopped, FieldMatch{Field: "source", Value: "aliyun.ecs"}, true},
		{"equal is exact", stopped, FieldMatch{Field: "source", Op: "=", Value: "aliyun"}, false},
		{"not equal", stopped, FieldMatch{Field: "region", Op: "!=", Value: "cn-beijing"}, true},
		{"regexp is anchored", stopped, FieldMatch{Field: "type", Op: "=~", Value: "Instance"}, false},
		{"regexp matches the whole value", stopped, FieldMatch{Field: "type", Op: "=~", Value: "Instance:.*"}, true},
		{"negated regexp", stopped, FieldMatch{Field: "resource", Op: "!~", Value: "i-.*"}, false},
		{"regexp dot matches a line break, as in PromQL", text, FieldMatch{Field: "content", Op: "=~", Value: "disk replaced.no data lost"}, true},
		{"bad regexp never holds", stopped, FieldMatch{Field: "type", Op: "!~", Value: "("}, false},
		{"in", stopped, FieldMatch{Field: "content.currentState", Op: "in", Values: []string{"Stopping", "Stopped"}}, true},
		{"not in", stopped, FieldMatch{Field: "content.currentState", Op: "in", Values: []string{"Running"}}, false},
		{"level", stopped, FieldMatch{Field: "level", Op: "=", Value: "warning"}, true},
		{"label", stopped, FieldMatch{Field: "labels.env", Op: "=", Value: "prod"}, true},
		{"missing label reads empty", stopped, FieldMatch{Field: "labels.team", Op: "=", Value: ""}, true},
		{"content key, number as text", stopped, FieldMatch{Field: "content.attempts", Op: "=", Value: "3"}, true},
		{"content key, bool as text", stopped, FieldMatch{Field: "content.spot", Op: "=", Value: "false"}, true},
		{"content key, object as JSON", stopped, FieldMatch{Field: "content.tags", Op: "=", Value: `{"app":"web"}`}, true},
		{"content key, null reads empty", stopped, FieldMatch{Field: "content.note", Op: "=", Value: ""}, true},
		{"content key is top-level only", stopped, FieldMatch{Field: "content.tags.app", Op: "=", Value: ""}, true},
		{"content key of a string content reads empty", text, FieldMatch{Field: "content.currentState", Op: "!=", Value: ""}, false},
		{"whole content as text", text, FieldMatch{Field: "content", Op: "=~", Value: "disk replaced(.|\n)*"}, true},
		{"whole object content is its JSON", stopped, FieldMatch{Field: "content", Op: "=~", Value: `\{"instanceId".*`}, true},
		{"unknown field never holds", stopped, FieldMatch{Field: "status", Op: "!=", Value: "x"}, false},
		{"unknown op never holds", stopped, FieldMatch{Field: "type", Op: "like", Value: "x"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := eventView{e: tt.e}
			if got := tt.c.holds(&v); got != tt.want {
				t.Errorf("%+v holds = %v, want %v", tt.c, got, tt.want)
			}
		})
	}
}

func TestMatches(t *testing.T) {
	m := eventRule().Match
	tests := []struct {
		name                string
		e                   *intake.Event
		wantRaise, wantDone bool
	}{
		{"stopped raises", ecsEvent("Stopped", alert.Warning), true, false},
		{"running resolves", ecsEvent("Running", alert.Info), false, true},
		{"starting does neither", ecsEvent("Starting", alert.Info), false, false},
		{"another type does neither", &intake.Event{Source: "aliyun.ecs", Type: "Disk:Replaced", Resource: "d-1"}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raise, resolve := m.Matches(tt.e)
			if raise != tt.wantRaise || resolve != tt.wantDone {
				t.Errorf("Matches = %v, %v; want %v, %v", raise, resolve, tt.wantRaise, tt.wantDone)
			}
		})
	}

	// Both sets hold: the event resolves.
	both := &EventMatch{When: []FieldMatch{{Field: "type", Value: "Instance:StateChange"}}, ResolveWhen: []FieldMatch{{Field: "content.currentState", Value: "Running"}}}
	if raise, resolve := both.Matches(ecsEvent("Running", alert.Info)); raise || !resolve {
		t.Errorf("both hold: Matches = %v, %v; want false, true", raise, resolve)
	}
}

func TestEventAlert(t *testing.T) {
	r := eventRule()
	r.Labels = map[string]string{"team": "sre"}
	r.Annotations = map[string]string{
		"summary": `{{ $event.Resource }} in {{ $event.Region }} is {{ $event.Field "content.currentState" }} ({{ $labels.severity }})`,
		"content": "{{ $event.Content | reReplaceAll \"[{}]\" \"\" | title }}",
		"broken":  "{{ $event.Nosuch }}",
	}
	labels := alert.FromMap(map[string]string{
		"alertname": "ECS stopped", "severity": "warning", "team": "sre",
		"source": "aliyun.ecs", "resource": "i-bp67acfmxazb4p",
	})

	fired, ok := r.EventAlert(ecsEvent("Stopped", alert.Critical), "01J")
	if !ok {
		t.Fatal("the stopped event raised no alert")
	}
	want := alert.Alert{
		Fingerprint: labels.Fingerprint(),
		Labels:      labels,
		Annotations: alert.Labels{
			{Name: "broken", Value: `<error expanding template: error executing template __alert_ECS stopped: template: __alert_ECS stopped:1:51: executing "__alert_ECS stopped" at <$event.Nosuch>: can't evaluate field Nosuch in type rule.EventData>`},
			{Name: "content", Value: `"InstanceId":"I-Bp67acfmxazb4p","CurrentState":"Stopped","Attempts":3,"Spot":False,"Tags":"App":"Web","Note":Null`},
			{Name: "event_id", Value: "01J"},
			{Name: "event_level", Value: "critical"},
			{Name: "event_time", Value: "2026-11-21T08:52:03Z"},
			{Name: "event_type", Value: "Instance:StateChange"},
			{Name: "summary", Value: "i-bp67acfmxazb4p in cn-hangzhou is Stopped (warning)"},
		},
		StartsAt: eventTime,
		EndsAt:   eventTime.Add(EventOpenFor),
		Source:   "rule",
		Severity: alert.Warning,
	}
	if diff := cmp.Diff(want, fired); diff != "" {
		t.Errorf("raising alert (-want +got):\n%s", diff)
	}

	// The resolving event, at another level, names the same alert.
	later := ecsEvent("Running", alert.Info)
	later.Time = eventTime.Add(10 * time.Minute)
	resolved, ok := r.EventAlert(later, "01K")
	if !ok {
		t.Fatal("the running event resolved nothing")
	}
	if resolved.Fingerprint != fired.Fingerprint || !resolved.Labels.Equal(fired.Labels) {
		t.Errorf("resolving labels %s, want the raising ones %s", resolved.Labels, fired.Labels)
	}
	if !resolved.StartsAt.Equal(later.Time) || !resolved.EndsAt.Equal(later.Time) || resolved.StatusAt(later.Time) != alert.Resolved {
		t.Errorf("resolving alert starts %s, ends %s; want both %s", resolved.StartsAt, resolved.EndsAt, later.Time)
	}
	if got := resolved.Annotations.Get("summary"); got != "i-bp67acfmxazb4p in cn-hangzhou is Running (warning)" {
		t.Errorf("resolving summary = %q", got)
	}

	if _, ok := r.EventAlert(ecsEvent("Starting", alert.Info), "01L"); ok {
		t.Error("an event matching neither way made an alert")
	}
	metric := metricRule()
	if _, ok := metric.EventAlert(ecsEvent("Stopped", alert.Info), "01M"); ok {
		t.Error("a metric rule made an event alert")
	}
}

func TestEventAlertTiming(t *testing.T) {
	tests := []struct {
		name  string
		match EventMatch
		sev   alert.Severity
		want  time.Time // EndsAt
	}{
		{"resolve_after", EventMatch{When: []FieldMatch{{Field: "type", Value: "Instance:StateChange"}}, ResolveAfter: Duration(time.Hour)}, alert.Warning, eventTime.Add(time.Hour)},
		{"resolve_after with resolve_when", EventMatch{When: []FieldMatch{{Field: "type", Value: "Instance:StateChange"}},
			ResolveWhen: []FieldMatch{{Field: "content.currentState", Value: "Running"}}, ResolveAfter: Duration(2 * time.Hour)}, alert.Warning, eventTime.Add(2 * time.Hour)},
		{"neither: the default", EventMatch{When: []FieldMatch{{Field: "type", Value: "Instance:StateChange"}}}, "", eventTime.Add(DefaultResolveAfter)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Rule{Name: "x", Kind: KindEvent, Severity: tt.sev, Match: &tt.match}
			a, ok := r.EventAlert(ecsEvent("Stopped", alert.Critical), "1")
			if !ok {
				t.Fatal("no alert")
			}
			if !a.EndsAt.Equal(tt.want) || !a.StartsAt.Equal(eventTime) {
				t.Errorf("alert runs %s to %s, want %s to %s", a.StartsAt, a.EndsAt, eventTime, tt.want)
			}
		})
	}
}

func TestEventAlertLabels(t *testing.T) {
	tests := []struct {
		name string
		r    Rule
		want map[string]string
	}{
		{
			name: "severity from the level, default key",
			r:    Rule{Name: "x", Kind: KindEvent, Match: &EventMatch{When: []FieldMatch{{Field: "source", Value: "aliyun.ecs"}}}},
			want: map[string]string{"alertname": "x", "severity": "critical", "source": "aliyun.ecs", "resource": "i-bp67acfmxazb4p"},
		},
		{
			name: "every key field; an empty one adds no label",
			r: Rule{Name: "x", Kind: KindEvent, Severity: alert.Info, Labels: map[string]string{"team": "sre"}, Match: &EventMatch{
				When: []FieldMatch{{Field: "source", Value: "aliyun.ecs"}},
				Key:  []string{"source", "type", "level", "resource", "region", "labels.env", "labels.zone"},
			}},
			want: map[string]string{"alertname": "x", "severity": "info", "team": "sre", "source": "aliyun.ecs", "type": "Instance:StateChange",
				"level": "critical", "resource": "i-bp67acfmxazb4p", "region": "cn-hangzhou", "env": "prod"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, ok := tt.r.EventAlert(ecsEvent("Stopped", alert.Critical), "1")
			if !ok {
				t.Fatal("no alert")
			}
			if diff := cmp.Diff(tt.want, a.Labels.Map()); diff != "" {
				t.Errorf("labels (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEventAlertCutsContent(t *testing.T) {
	e := ecsEvent("Stopped", alert.Warning)
	e.Content, _ = json.Marshal(strings.Repeat("停", MaxContentLen)) // 3 bytes each
	r := Rule{Name: "x", Kind: KindEvent, Match: &EventMatch{When: []FieldMatch{{Field: "source", Value: "aliyun.ecs"}}}}
	a, _ := r.EventAlert(e, "1")
	got := a.Annotations.Get("content")
	if len(got) > MaxContentLen || !utf8.ValidString(got) || !strings.HasSuffix(got, "停…") {
		t.Errorf("content annotation: %d bytes, valid UTF-8 %v, ends %q", len(got), utf8.ValidString(got), got[len(got)-9:])
	}
}

// FuzzFieldMatch: whatever a condition and an event hold, validating and
// matching do not panic; a condition Validate takes reads its field; and
// a regular expression is anchored at both ends.
func FuzzFieldMatch(f *testing.F) {
	f.Add("content.currentState", "=~", "Stop.*", `{"currentState":"Stopped"}`, "Stopped")
	f.Add("labels.env", "in", "prod", `"text content"`, "prod")
	f.Add("content.", "!~", "(", `[1,2]`, "")
	f.Add("level", "=", "CRITICAL", `{"a":{"b":null}}`, "x")
	f.Add("content.a.b", "!=", "", `{"a.b":1e3}`, "1e3")
	f.Fuzz(func(t *testing.T, field, op, value, content, typ string) {
		e := &intake.Event{Source: "s", Type: typ, Level: alert.Info, Resource: "r", Labels: alert.Labels{{Name: "env", Value: value}}}
		if json.Valid([]byte(content)) {
			e.Content = json.RawMessage(content)
		}
		c := FieldMatch{Field: field, Op: op, Value: value}
		if op == OpIn {
			c.Values = []string{value}
		}
		var probs problem.List
		c.validate(&probs, "c")
		v := eventView{e: e}
		holds := c.holds(&v)
		ref, err := parseField(field)
		if probs.Err() == nil {
			if err != nil {
				t.Fatalf("Validate took field %q that does not parse: %v", field, err)
			}
			got := v.get(ref)
			switch op {
			case "", OpEqual, OpIn:
				if holds != (got == value) {
					t.Errorf("%+v holds = %v for %q", c, holds, got)
				}
			case OpNotEqual:
				if holds != (got != value) {
					t.Errorf("%+v holds = %v for %q", c, holds, got)
				}
			}
		}
		if !utf8.ValidString(typ) {
			return
		}
		anchored := FieldMatch{Field: "type", Op: OpRegexp, Value: regexp.QuoteMeta(typ)}
		if !anchored.holds(&v) {
			t.Errorf("=~ %q does not match %q", anchored.Value, typ)
		}
		e.Type = typ + "x"
		if anchored.holds(&eventView{e: e}) {
			t.Errorf("=~ %q matches %q: not anchored", anchored.Value, e.Type)
		}
	})
}

func TestCut(t *testing.T) {
	tests := []struct {
		s    string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"abcdefghijk", 10, "abcdefg…"},
		{"一二三四五", 10, "一二…"},  // 9 bytes would split 三
		{"一二三四五", 12, "一二三…"}, // 9 + 3
	}
	for _, tt := range tests {
		if got := cut(tt.s, tt.n); got != tt.want {
			t.Errorf("cut(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.want)
		}
	}
}
