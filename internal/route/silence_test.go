package route

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tocsinhq/tocsin/internal/problem"
)

func TestSilenceState(t *testing.T) {
	s := Silence{StartsAt: t0, EndsAt: t0.Add(time.Hour)}
	for _, tc := range []struct {
		at   time.Duration
		want SilenceState
	}{
		{-time.Nanosecond, SilencePending},
		{0, SilenceActive},
		{59 * time.Minute, SilenceActive},
		{time.Hour, SilenceExpired}, // the end is exclusive
		{2 * time.Hour, SilenceExpired},
	} {
		if got := s.State(t0.Add(tc.at)); got != tc.want {
			t.Errorf("State(t0%+v) = %s, want %s", tc.at, got, tc.want)
		}
	}
	var zero Silence
	if zero.State(t0) != SilenceExpired {
		t.Error("the zero Silence should be expired")
	}
}

func TestSilenceValidate(t *testing.T) {
	ok := Silence{
		Matchers: ms(t, `alertname="DiskFull"`), StartsAt: t0, EndsAt: t0.Add(time.Hour),
		CreatedBy: "ann", Comment: "disk swap, TICKET-1",
	}
	if err := ok.Validate(t0); err != nil {
		t.Fatalf("valid silence: %v", err)
	}
	for _, tc := range []struct {
		name   string
		change func(*Silence)
		want   []string
	}{
		{"no matchers", func(s *Silence) { s.Matchers = nil }, []string{"matchers required"}},
		{"matchers match everything", func(s *Silence) { s.Matchers = ms(t, `team!="sre", x=~".*"`) }, []string{"matchers matches-everything"}},
		{"end before start", func(s *Silence) { s.EndsAt = s.StartsAt.Add(-time.Second) }, []string{"endsAt out-of-range"}},
		{"end equals start", func(s *Silence) { s.EndsAt = s.StartsAt }, []string{"endsAt out-of-range"}},
		{"end in the past", func(s *Silence) { s.StartsAt, s.EndsAt = t0.Add(-2*time.Hour), t0.Add(-time.Hour) }, []string{"endsAt out-of-range"}},
		{"no start", func(s *Silence) { s.StartsAt = time.Time{} }, []string{"startsAt required"}},
		{"blank author and comment", func(s *Silence) { s.CreatedBy, s.Comment = " ", "" }, []string{"createdBy required", "comment required"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := ok
			tc.change(&s)
			var probs *problem.List
			if err := s.Validate(t0); !errors.As(err, &probs) {
				t.Fatalf("Validate = %v, want *problem.List", err)
			}
			var got []string
			for _, p := range probs.Items {
				got = append(got, p.Field+" "+p.Code)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
	s := ok
	s.Matchers = ms(t, `team!="sre"`)
	want := `matchers: every matcher here also matches alerts that lack its label ({team!="sre"}), so the silence would mute nearly everything; as in Alertmanager, add a matcher that needs a value, such as alertname="DiskFull"`
	if err := s.Validate(t0); err == nil || err.Error() != want {
		t.Errorf("Validate:\n got %v\nwant %s", err, want)
	}
}

func TestSilenceExpire(t *testing.T) {
	now := t0.Add(30 * time.Minute)
	for _, tc := range []struct {
		name               string
		start, end         time.Time
		wantStart, wantEnd time.Time
		wantErr            bool
	}{
		{"active", t0, t0.Add(time.Hour), t0, now, false},
		{"pending", t0.Add(time.Hour), t0.Add(2 * time.Hour), now, now, false},
		{"expired", t0.Add(-time.Hour), t0, t0.Add(-time.Hour), t0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Silence{ID: "s1", StartsAt: tc.start, EndsAt: tc.end}
			err := s.Expire(now)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Expire = %v, want error %v", err, tc.wantErr)
			}
			if !s.StartsAt.Equal(tc.wantStart) || !s.EndsAt.Equal(tc.wantEnd) {
				t.Errorf("after Expire: %v – %v, want %v – %v", s.StartsAt, s.EndsAt, tc.wantStart, tc.wantEnd)
			}
			if err == nil && (s.State(now) != SilenceExpired || !s.UpdatedAt.Equal(now)) {
				t.Errorf("after Expire: state %s, updated %v; want expired, updated now", s.State(now), s.UpdatedAt)
			}
		})
	}
}

func TestSilenceUpdatableTo(t *testing.T) {
	now := t0.Add(30 * time.Minute)
	active := Silence{ID: "a", Matchers: ms(t, `alertname="DiskFull", instance=~"db-.*"`), StartsAt: t0, EndsAt: t0.Add(time.Hour)}
	pending := Silence{ID: "p", Matchers: active.Matchers, StartsAt: t0.Add(time.Hour), EndsAt: t0.Add(2 * time.Hour)}
	expired := Silence{ID: "e", Matchers: active.Matchers, StartsAt: t0.Add(-time.Hour), EndsAt: t0}
	for _, tc := range []struct {
		name   string
		prev   Silence
		change func(*Silence)
		want   bool
	}{
		{"active: new end and comment", active, func(s *Silence) { s.EndsAt = t0.Add(3 * time.Hour); s.Comment = "longer" }, true},
		{"active: end moved to now", active, func(s *Silence) { s.EndsAt = now }, true},
		{"active: end moved before now", active, func(s *Silence) { s.EndsAt = now.Add(-time.Second) }, false},
		{"active: start within the same second", active, func(s *Silence) { s.StartsAt = t0.Add(999 * time.Millisecond) }, true},
		{"active: start moved", active, func(s *Silence) { s.StartsAt = t0.Add(time.Second) }, false},
		{"active: other matcher value", active, func(s *Silence) { s.Matchers = ms(t, `alertname="DiskFull", instance=~"web-.*"`) }, false},
		{"active: matchers reordered", active, func(s *Silence) { s.Matchers = ms(t, `instance=~"db-.*", alertname="DiskFull"`) }, false},
		{"active: a matcher added", active, func(s *Silence) { s.Matchers = ms(t, `alertname="DiskFull", instance=~"db-.*", team="sre"`) }, false},
		{"active: other operator", active, func(s *Silence) { s.Matchers = ms(t, `alertname="DiskFull", instance!~"db-.*"`) }, false},
		{"pending: start moved later", pending, func(s *Silence) { s.StartsAt = t0.Add(90 * time.Minute) }, true},
		{"pending: start moved to now", pending, func(s *Silence) { s.StartsAt = now }, true},
		{"pending: start moved into the past", pending, func(s *Silence) { s.StartsAt = now.Add(-time.Minute) }, false},
		{"expired: unchanged", expired, func(*Silence) {}, false},
		{"expired: new end", expired, func(s *Silence) { s.EndsAt = t0.Add(time.Hour) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next := tc.prev
			next.Matchers = append(Matchers(nil), tc.prev.Matchers...)
			tc.change(&next)
			if got := tc.prev.UpdatableTo(&next, now); got != tc.want {
				t.Errorf("UpdatableTo = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSilenced(t *testing.T) {
	silences := []Silence{
		{ID: "active-match", Matchers: ms(t, `alertname="DiskFull"`), StartsAt: t0, EndsAt: t0.Add(time.Hour)},
		{ID: "active-other", Matchers: ms(t, `alertname="HighCPU"`), StartsAt: t0, EndsAt: t0.Add(time.Hour)},
		{ID: "pending-match", Matchers: ms(t, `instance=~"db-.*"`), StartsAt: t0.Add(time.Hour), EndsAt: t0.Add(2 * time.Hour)},
		{ID: "expired-match", Matchers: ms(t, `alertname="DiskFull"`), StartsAt: t0.Add(-time.Hour), EndsAt: t0},
		{ID: "active-regex", Matchers: ms(t, `instance=~"db-.*", team!="web"`), StartsAt: t0, EndsAt: t0.Add(time.Hour)},
	}
	ls := labels("alertname", "DiskFull", "instance", "db-1")
	if diff := cmp.Diff([]string{"active-match", "active-regex"}, Silenced(silences, ls, t0.Add(time.Minute))); diff != "" {
		t.Errorf("Silenced (-want +got):\n%s", diff)
	}
	if got := Silenced(silences, labels("alertname", "Other"), t0); got != nil {
		t.Errorf("Silenced(no match) = %v, want nil", got)
	}
}

func TestSilenceJSON(t *testing.T) {
	// A silence as amtool posts it to /api/v2/silences.
	in := `{"matchers":[{"name":"alertname","value":"DiskFull","isRegex":false,"isEqual":true},{"name":"instance","value":"db-.*","isRegex":true}],
		"startsAt":"2026-11-21T09:00:00Z","endsAt":"2026-11-21T10:00:00Z","createdBy":"ann","comment":"swap disk"}`
	var s Silence
	if err := json.Unmarshal([]byte(in), &s); err != nil {
		t.Fatal(err)
	}
	want := Silence{
		Matchers: ms(t, `alertname="DiskFull", instance=~"db-.*"`),
		StartsAt: t0, EndsAt: t0.Add(time.Hour), CreatedBy: "ann", Comment: "swap disk",
	}
	if diff := cmp.Diff(want, s); diff != "" {
		t.Errorf("decode (-want +got):\n%s", diff)
	}
	out, _ := json.Marshal(s)
	const wantJSON = `{"id":"","matchers":[{"name":"alertname","value":"DiskFull","isRegex":false,"isEqual":true},{"name":"instance","value":"db-.*","isRegex":true,"isEqual":true}],"startsAt":"2026-11-21T09:00:00Z","endsAt":"2026-11-21T10:00:00Z","createdBy":"ann","comment":"swap disk","updatedAt":"0001-01-01T00:00:00Z"}`
	if string(out) != wantJSON {
		t.Errorf("encode:\n got %s\nwant %s", out, wantJSON)
	}
}
