package alert

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

// TestFingerprintMatchesAlertmanager cross-checks against the reference
// implementation Alertmanager uses (prometheus/common/model), test-only.
func TestFingerprintMatchesAlertmanager(t *testing.T) {
	for _, m := range []map[string]string{
		{},
		{"alertname": "HighCPU"},
		{"alertname": "DiskFull", "instance": "db-1:9100", "severity": "critical", "job": "node"},
		{"中文": "告警", "emoji": "🔥", "a": "b\xff"},
	} {
		want := model.LabelSet{}
		for k, v := range m {
			want[model.LabelName(k)] = model.LabelValue(v)
		}
		if got := FromMap(m).Fingerprint(); uint64(got) != uint64(want.Fingerprint()) {
			t.Errorf("Fingerprint(%v) = %s, Alertmanager: %s", m, got, want.Fingerprint())
		}
	}
}

func TestLabels(t *testing.T) {
	ls := FromMap(map[string]string{"b": "2", "a": "1", "empty": ""})
	if ls.String() != `{a="1", b="2"}` || ls.Get("b") != "2" || ls.Has("empty") || ls.Get("zz") != "" {
		t.Errorf("labels: %s", ls)
	}
	fp := ls.Fingerprint()
	back, err := ParseFingerprint(fp.String())
	if err != nil || back != fp {
		t.Errorf("ParseFingerprint(%s) = %v, %v", fp, back, err)
	}
	js, _ := json.Marshal(map[string]Fingerprint{"fp": fp})
	var decoded map[string]Fingerprint
	if err := json.Unmarshal(js, &decoded); err != nil || decoded["fp"] != fp || string(js) != `{"fp":"`+fp.String()+`"}` {
		t.Errorf("JSON round trip: %s -> %v, %v", js, decoded, err)
	}
}

func TestStatusAndValidate(t *testing.T) {
	now := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	a := Alert{Labels: FromMap(map[string]string{"alertname": "X"}), StartsAt: now.Add(-time.Hour)}
	if a.StatusAt(now) != Firing {
		t.Error("alert without endsAt is not firing")
	}
	a.EndsAt = now
	if a.StatusAt(now) != Resolved {
		t.Error("alert whose endsAt has come is not resolved")
	}
	var errs ValidationError
	bad := Alert{StartsAt: now, EndsAt: now.Add(-time.Minute), Annotations: Labels{{"b", "1"}, {"a", "2"}}}
	bad.Validate("[0]", &errs)
	if len(errs.Problems) != 3 {
		t.Errorf("problems = %v, want labels, annotations order and endsAt", errs.Problems)
	}
	if ParseSeverity(" P1 ") != Critical || ParseSeverity("warn") != Warning || ParseSeverity("x") != Unknown {
		t.Error("ParseSeverity")
	}
}
