package intake

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tocsinhq/tocsin/internal/alert"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json with the current output")

func gettableAlerts() []GettableAlert {
	disk := mk(map[string]string{"alertname": "DiskFull", "instance": "db-1:9100", "severity": "critical"},
		map[string]string{"summary": `Disk "/data" is 97% full <db-1> & growing`},
		ts("2026-11-21T08:41:30.123456789Z"), time.Time{}, "http://prometheus:9090/graph?g0.expr=disk&g0.tab=1", SourceAlertmanager)
	cpu := mk(map[string]string{"alertname": "HighCPU", "instance": "web-3:9100", "team": "网站"}, nil,
		ts("2026-11-21T16:10:00+08:00"), ts("2026-11-21T08:55:00Z"), "", SourceNative)
	lag := mk(map[string]string{"alertname": "ReplicationLag", "instance": "mysql-2:9104"}, nil,
		ts("2026-11-21T08:50:00Z"), ts("2026-11-21T09:04:00Z"), "", SourceAlertmanager)
	return []GettableAlert{
		NewGettableAlert(&disk, GettableInfo{
			UpdatedAt: now, EndsAt: now.Add(5 * time.Minute), Receivers: []string{"sre-dingtalk", "dba-lark"},
		}),
		NewGettableAlert(&cpu, GettableInfo{
			UpdatedAt: now.Add(-5 * time.Minute), SilencedBy: []string{"7d3a9f0e-2b1c-4e5f-8a6b-0c1d2e3f4a5b"},
		}),
		NewGettableAlert(&lag, GettableInfo{
			UpdatedAt: now, State: StateActive, MutedBy: []string{"weekends"}, InhibitedBy: []string{"0b5e2c6f1d1a9a3e"},
		}),
	}
}

func TestGettableAlertGolden(t *testing.T) {
	got, err := json.MarshalIndent(gettableAlerts(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "gettable.golden.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got), run go test -update if the change is right:\n%s", path, diff)
	}
}

// TestGettableAlertShape checks the JSON against the fields
// api/v2/openapi.yaml requires of gettableAlert and alertStatus.
func TestGettableAlertShape(t *testing.T) {
	b, err := json.Marshal(gettableAlerts())
	if err != nil {
		t.Fatal(err)
	}
	var got []map[string]json.RawMessage
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	keys := func(m map[string]json.RawMessage) []string {
		var ks []string
		for k := range m {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		return ks
	}
	required := []string{"annotations", "endsAt", "fingerprint", "labels", "receivers", "startsAt", "status", "updatedAt"}
	withURL := append(slices.Clone(required), "generatorURL")
	slices.Sort(withURL)
	if diff := cmp.Diff(withURL, keys(got[0])); diff != "" {
		t.Errorf("alert with a generator URL: keys differ (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(required, keys(got[1])); diff != "" {
		t.Errorf("alert without a generator URL: keys differ (-want +got):\n%s", diff)
	}
	for i, a := range got {
		var status map[string]json.RawMessage
		if err := json.Unmarshal(a["status"], &status); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"inhibitedBy", "mutedBy", "silencedBy", "state"}, keys(status)); diff != "" {
			t.Errorf("alert %d: status keys differ (-want +got):\n%s", i, diff)
		}
		for _, list := range []string{"inhibitedBy", "mutedBy", "silencedBy"} {
			if string(status[list]) == "null" {
				t.Errorf("alert %d: status.%s is null", i, list)
			}
		}
		for _, field := range []string{"startsAt", "endsAt", "updatedAt"} {
			var s string
			if err := json.Unmarshal(a[field], &s); err != nil {
				t.Fatal(err)
			}
			if _, err := time.Parse(time.RFC3339, s); err != nil {
				t.Errorf("alert %d: %s %q: %v", i, field, s, err)
			}
		}
	}
}

func TestNewGettableAlertState(t *testing.T) {
	a := mk(map[string]string{"alertname": "A"}, nil, now, time.Time{}, "", SourceNative)
	for _, tt := range []struct {
		name string
		info GettableInfo
		want AlertState
	}{
		{"nothing", GettableInfo{}, StateActive},
		{"silenced", GettableInfo{SilencedBy: []string{"s"}}, StateSuppressed},
		{"inhibited", GettableInfo{InhibitedBy: []string{"f"}}, StateSuppressed},
		{"unprocessed", GettableInfo{State: StateUnprocessed}, StateUnprocessed},
		{"muted wins, as in Alertmanager", GettableInfo{State: StateActive, MutedBy: []string{"nights"}}, StateSuppressed},
	} {
		if got := NewGettableAlert(&a, tt.info).Status.State; got != tt.want {
			t.Errorf("%s: state %s, want %s", tt.name, got, tt.want)
		}
	}
	g := NewGettableAlert(&a, GettableInfo{})
	if g.EndsAt != "0001-01-01T00:00:00.000Z" || g.Receivers == nil || g.StartsAt != "2026-11-21T09:00:00.000Z" {
		t.Errorf("zero info: %+v", g)
	}
}

// TestLabelSetJSON holds LabelSet to encoding/json's own writing of the
// same map, byte for byte, and reads it back.
func TestLabelSetJSON(t *testing.T) {
	m := map[string]string{
		"alertname": "DiskFull",
		"quote":     `say "hi" \ there`,
		"control":   "a\nb\rc\td\x00e\x1ff\bg\fh",
		"html":      "<b>&amp;</b>",
		"js":        "line\u2028para\u2029end",
		"bad utf-8": "caf\xe9",
		"中文":        "告警 🔥",
		"":          "empty name",
	}
	want, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	ls := make(LabelSet, 0, len(m))
	for k, v := range m {
		ls = append(ls, alert.Label{Name: k, Value: v})
	}
	slices.SortFunc(ls, func(a, b alert.Label) int { return strings.Compare(a.Name, b.Name) })
	got, err := json.Marshal(ls)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("LabelSet:\n got %s\nwant %s", got, want)
	}
	if b, _ := json.Marshal(LabelSet(nil)); string(b) != "{}" {
		t.Errorf("nil LabelSet = %s, want {}", b)
	}
	var back LabelSet
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatal(err)
	}
	m["bad utf-8"] = "caf\uFFFD" // as JSON carries it
	if diff := cmp.Diff(alert.FromMap(m), alert.Labels(back)); diff != "" {
		t.Errorf("round trip differs (-want +got):\n%s", diff)
	}
}
