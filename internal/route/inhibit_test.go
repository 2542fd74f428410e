package route

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/problem"
)

func TestInhibited(t *testing.T) {
	firing := func(kv ...string) alert.Alert {
		ls := labels(kv...)
		return alert.Alert{Fingerprint: ls.Fingerprint(), Labels: ls, StartsAt: t0}
	}
	resolved := func(kv ...string) alert.Alert {
		a := firing(kv...)
		a.EndsAt = t0.Add(time.Minute)
		return a
	}
	criticalQuietsWarning := InhibitRule{
		SourceMatchers: ms(t, `severity="critical"`),
		TargetMatchers: ms(t, `severity="warning"`),
		Equal:          []string{"alertname", "cluster"},
	}
	dcDown := InhibitRule{SourceMatchers: ms(t, `alertname="DatacenterDown"`), Equal: []string{"dc"}}
	// Both sides match severity=~"critical|warning": two such alerts must
	// not silence each other.
	twoSided := InhibitRule{SourceMatchers: ms(t, `severity=~"critical|warning"`), TargetMatchers: ms(t, `severity=~"critical|warning"`)}

	source := firing("alertname", "DiskFull", "severity", "critical", "cluster", "eu")
	for _, tc := range []struct {
		name    string
		rules   []InhibitRule
		sources []alert.Alert
		target  alert.Labels
		want    alert.Fingerprint // 0: not inhibited
	}{
		{"inhibited", []InhibitRule{criticalQuietsWarning}, []alert.Alert{source},
			labels("alertname", "DiskFull", "severity", "warning", "cluster", "eu"), source.Fingerprint},
		{"equal label differs", []InhibitRule{criticalQuietsWarning}, []alert.Alert{source},
			labels("alertname", "DiskFull", "severity", "warning", "cluster", "us"), 0},
		{"equal label missing on both sides is equal", []InhibitRule{criticalQuietsWarning},
			[]alert.Alert{firing("alertname", "DiskFull", "severity", "critical")},
			labels("alertname", "DiskFull", "severity", "warning"), firing("alertname", "DiskFull", "severity", "critical").Fingerprint},
		{"equal label missing on one side", []InhibitRule{criticalQuietsWarning}, []alert.Alert{source},
			labels("alertname", "DiskFull", "severity", "warning"), 0},
		{"target does not match", []InhibitRule{criticalQuietsWarning}, []alert.Alert{source},
			labels("alertname", "DiskFull", "severity", "info", "cluster", "eu"), 0},
		{"resolved source", []InhibitRule{criticalQuietsWarning},
			[]alert.Alert{resolved("alertname", "DiskFull", "severity", "critical", "cluster", "eu")},
			labels("alertname", "DiskFull", "severity", "warning", "cluster", "eu"), 0},
		{"empty target matchers with equal", []InhibitRule{dcDown},
			[]alert.Alert{firing("alertname", "DatacenterDown", "dc", "sh")},
			labels("alertname", "HighLatency", "dc", "sh"), firing("alertname", "DatacenterDown", "dc", "sh").Fingerprint},
		{"never itself", []InhibitRule{dcDown},
			[]alert.Alert{firing("alertname", "DatacenterDown", "dc", "sh")},
			labels("alertname", "DatacenterDown", "dc", "sh"), 0},
		{"two-sided match does not inhibit", []InhibitRule{twoSided},
			[]alert.Alert{firing("alertname", "A", "severity", "critical")},
			labels("alertname", "B", "severity", "warning"), 0},
		{"no rules", nil, []alert.Alert{source}, labels("severity", "warning"), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			by, ok := Inhibited(tc.rules, tc.sources, tc.target, t0.Add(2*time.Minute))
			if ok != (tc.want != 0) || by != tc.want {
				t.Errorf("Inhibited = %s, %v; want %s, %v", by, ok, tc.want, tc.want != 0)
			}
		})
	}
}

func TestInhibitRuleJSON(t *testing.T) {
	var r InhibitRule
	in := `{"source_matchers":["severity=critical"],"target_matchers":["severity=~\"warning|info\""],"equal":["alertname"," cluster "]}`
	if err := json.Unmarshal([]byte(in), &r); err != nil {
		t.Fatal(err)
	}
	want := InhibitRule{SourceMatchers: ms(t, `severity="critical"`), TargetMatchers: ms(t, `severity=~"warning|info"`), Equal: []string{"alertname", "cluster"}}
	if diff := cmp.Diff(want, r); diff != "" {
		t.Errorf("decode (-want +got):\n%s", diff)
	}
	out, _ := json.Marshal(r)
	if want := `{"source_matchers":["severity=\"critical\""],"target_matchers":["severity=~\"warning|info\""],"equal":["alertname","cluster"]}`; string(out) != want {
		t.Errorf("encode:\n got %s\nwant %s", out, want)
	}
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{`{"target_matchers":["a=1"]}`, []string{"source_matchers required"}},
		{`{"source_matchers":["a=1"]}`, []string{"target_matchers required"}},
		{`{"source_matchers":["a=="],"equal":["x","x",""]}`, []string{"source_matchers[0] invalid-matcher", "equal[1] duplicate", "equal[2] required"}},
		{`{"source_matchers":["a=1"],"equal":["x"],"extra":1}`, []string{"extra unknown-field"}},
	} {
		var r InhibitRule
		err := json.Unmarshal([]byte(tc.in), &r)
		var probs *problem.List
		if !errors.As(err, &probs) {
			t.Fatalf("decode %s = %v, want *problem.List", tc.in, err)
		}
		var got []string
		for _, p := range probs.Items {
			got = append(got, p.Field+" "+p.Code)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("decode %s (-want +got):\n%s", tc.in, diff)
		}
	}
}
