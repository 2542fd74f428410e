package route

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tocsinhq/tocsin/internal/problem"
)

// TimeWindow is a recurring period, in one time zone, during which a
// policy sends nothing. Zero Weekdays means every day; no Times means the
// whole day; a nil Location means UTC (as Alertmanager's time intervals).
// A window that crosses midnight is written as two ranges, "22:00"–"24:00"
// and "00:00"–"06:00"; when it also crosses into another weekday, as two
// windows (friday 22:00–24:00, saturday 00:00–06:00).
type TimeWindow struct {
	Weekdays Weekdays
	Times    []TimeRange
	Location *time.Location
}

// TimeRange is a time of day range [Start, End) in minutes after midnight;
// End may be 1440 ("24:00").
type TimeRange struct {
	Start, End int
}

// Weekdays is a set of days: bit d is time.Weekday(d).
type Weekdays uint8

// allWeekdays is every bit a Weekdays may have.
const allWeekdays Weekdays = 1<<7 - 1

// WeekdaysOf returns the set of the given days.
func WeekdaysOf(days ...time.Weekday) Weekdays {
	var w Weekdays
	for _, d := range days {
		w |= 1 << (uint(d) % 7)
	}
	return w
}

// Has reports whether d is in the set.
func (w Weekdays) Has(d time.Weekday) bool { return w&(1<<(uint(d)%7)) != 0 }

// Active reports whether now falls inside the window, read on the wall
// clock of the window's zone.
func (w TimeWindow) Active(now time.Time) bool {
	loc := w.Location
	if loc == nil {
		loc = time.UTC
	}
	t := now.In(loc)
	if w.Weekdays != 0 && !w.Weekdays.Has(t.Weekday()) {
		return false
	}
	if len(w.Times) == 0 {
		return true
	}
	m := t.Hour()*60 + t.Minute()
	for _, r := range w.Times {
		if r.Start <= m && m < r.End {
			return true
		}
	}
	return false
}

// validate checks a window built in Go or decoded; field is its JSON path.
func (w TimeWindow) validate(p *problem.List, field string) {
	if w.Weekdays&^allWeekdays != 0 {
		p.Add(field+".weekdays", "invalid-value", "weekdays has bits beyond the seven days")
	}
	if w.Weekdays == 0 && len(w.Times) == 0 {
		p.Add(field, "required", "this window names neither weekdays nor times, so it would mute the policy all the time; add weekdays (\"saturday\", \"monday:friday\") or times ({\"start\":\"22:00\",\"end\":\"24:00\"})")
	}
	for i, r := range w.Times {
		f := fmt.Sprintf("%s.times[%d]", field, i)
		switch {
		case p.Has(f+".start") || p.Has(f+".end"):
		case r.Start < 0 || r.Start >= 1440:
			p.Add(f+".start", "out-of-range", "start must be a time of day from 00:00 to 23:59")
		case r.End <= 0 || r.End > 1440:
			p.Add(f+".end", "out-of-range", "end must be a time of day from 00:01 to 24:00")
		case r.End <= r.Start:
			p.Add(f+".end", "out-of-range", "end (%s) must be after start (%s); a window across midnight is written as two ranges, %s–24:00 and 00:00–%s",
				clock(r.End), clock(r.Start), clock(r.Start), clock(r.End))
		}
	}
}

// The JSON form, PRODUCT.md §4: {"weekdays":["saturday","monday:friday"],
// "times":[{"start":"HH:mm","end":"HH:mm"}],"timezone":"Asia/Shanghai"}.
type timeWindowJSON struct {
	Weekdays []string        `json:"weekdays"`
	Times    []timeRangeJSON `json:"times"`
	Timezone string          `json:"timezone"`
}

type timeRangeJSON struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

func (w TimeWindow) toJSON() timeWindowJSON {
	j := timeWindowJSON{Weekdays: w.Weekdays.names(), Times: []timeRangeJSON{}, Timezone: "UTC"}
	for _, r := range w.Times {
		j.Times = append(j.Times, timeRangeJSON{Start: clock(r.Start), End: clock(r.End)})
	}
	if w.Location != nil {
		j.Timezone = w.Location.String()
	}
	return j
}

func (j timeWindowJSON) parse(p *problem.List, field string) TimeWindow {
	w := TimeWindow{Location: time.UTC}
	for i, s := range j.Weekdays {
		d, err := parseWeekdays(s)
		if err != nil {
			p.Add(fmt.Sprintf("%s.weekdays[%d]", field, i), "invalid-value", "%v", err)
		}
		w.Weekdays |= d
	}
	for i, r := range j.Times {
		f := fmt.Sprintf("%s.times[%d]", field, i)
		start, err := parseClock(r.Start, false)
		if err != nil {
			p.Add(f+".start", "invalid-value", "%v", err)
		}
		end, err := parseClock(r.End, true)
		if err != nil {
			p.Add(f+".end", "invalid-value", "%v", err)
		}
		w.Times = append(w.Times, TimeRange{Start: start, End: end})
	}
	if tz := strings.TrimSpace(j.Timezone); tz != "" {
		loc, err := time.LoadLocation(tz)
		if err != nil {
			p.Add(field+".timezone", "invalid-timezone", "%q is not an IANA time zone: use a name like Asia/Shanghai or UTC", tz)
		} else {
			w.Location = loc
		}
	}
	return w
}

var weekdayNames = map[string]time.Weekday{
	"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday, "wednesday": time.Wednesday,
	"thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday,
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// parseWeekdays reads "monday" or a range "monday:friday". A range runs
// forward through the week and may wrap: "saturday:monday" is Saturday,
// Sunday and Monday.
func parseWeekdays(s string) (Weekdays, error) {
	from, to, isRange := strings.Cut(strings.ToLower(strings.TrimSpace(s)), ":")
	first, ok1 := weekdayNames[strings.TrimSpace(from)]
	last, ok2 := weekdayNames[strings.TrimSpace(to)]
	if !isRange {
		last, ok2 = first, ok1
	}
	if !ok1 || !ok2 {
		return 0, fmt.Errorf("%q is not a weekday: write a day name (monday … sunday) or a range such as monday:friday", s)
	}
	var w Weekdays
	for d := first; ; d = (d + 1) % 7 {
		w |= WeekdaysOf(d)
		if d == last {
			return w, nil
		}
	}
}

// names renders the set as day names, runs of two or more days as ranges,
// in week order from Monday.
func (w Weekdays) names() []string {
	out := []string{}
	for i := 0; i < 7; {
		d := time.Weekday((i + 1) % 7) // Monday first
		if !w.Has(d) {
			i++
			continue
		}
		j := i
		for j+1 < 7 && w.Has(time.Weekday((j+2)%7)) {
			j++
		}
		name := strings.ToLower(d.String())
		if j > i {
			name += ":" + strings.ToLower(time.Weekday((j+1)%7).String())
		}
		out = append(out, name)
		i = j + 1
	}
	return out
}

// parseClock reads "HH:mm" (or "H:mm") as minutes after midnight; "24:00"
// only when end is true.
func parseClock(s string, end bool) (int, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	switch {
	case !ok || err1 != nil || err2 != nil || len(h) < 1 || len(h) > 2 || len(m) != 2 || h[0] == '+' || h[0] == '-' || m[0] == '+' || m[0] == '-':
		return 0, fmt.Errorf("%q is not a time of day: write HH:mm, such as 09:00 or 18:30", s)
	case hh == 24 && mm == 0 && end:
		return 1440, nil
	case hh == 24 && mm == 0:
		return 0, fmt.Errorf("a range cannot start at 24:00; use 00:00")
	case hh > 23 || mm > 59:
		return 0, fmt.Errorf("%q is not a time of day: hours run 00–23 and minutes 00–59 (24:00 is allowed as an end)", s)
	}
	return hh*60 + mm, nil
}

// clock renders minutes after midnight as HH:mm.
func clock(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }

// MarshalTimeWindows writes windows in their JSON form (PRODUCT.md §4), as
// a policy's mute_time_windows: the form stores keep them in. A nil list is
// [].
func MarshalTimeWindows(ws []TimeWindow) ([]byte, error) {
	js := make([]timeWindowJSON, len(ws))
	for i, w := range ws {
		js[i] = w.toJSON()
	}
	return json.Marshal(js)
}

// UnmarshalTimeWindows reads windows in their JSON form and validates them
// as Policy's UnmarshalJSON does; its error is *problem.List naming fields
// as mute_time_windows[i]…. An empty list is nil.
func UnmarshalTimeWindows(data []byte) ([]TimeWindow, error) {
	var js []timeWindowJSON
	if err := problem.DecodeStrict(data, &js, "mute_time_windows"); err != nil {
		return nil, err
	}
	var probs problem.List
	var ws []TimeWindow
	for i, j := range js {
		field := fmt.Sprintf("mute_time_windows[%d]", i)
		w := j.parse(&probs, field)
		w.validate(&probs, field)
		ws = append(ws, w)
	}
	if err := probs.Err(); err != nil {
		return nil, err
	}
	return ws, nil
}
