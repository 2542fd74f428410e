package route

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/problem"
)

// Grouping defaults, the same as Alertmanager's, applied when the JSON
// leaves a field out or empty.
const (
	DefaultGroupWait      = 30 * time.Second
	DefaultGroupInterval  = 5 * time.Minute
	DefaultRepeatInterval = 4 * time.Hour
)

// GroupByAll, as the only entry of GroupBy, groups by every label: each
// distinct label set is its own group.
const GroupByAll = "..."

// MaxNameLen bounds a policy name, in characters.
const MaxNameLen = 100

// Mention says when a policy's messages @-mention people.
type Mention string

// Mention settings. The zero value "" reads as MentionNone.
const (
	MentionNone     Mention = "none"
	MentionCritical Mention = "critical" // only for critical alerts
	MentionAlways   Mention = "always"
)

// Targets are where a policy sends: channels and contact groups, each by id
// or name. Resolving them is the caller's business.
type Targets struct {
	Channels      []string `json:"channels"`
	ContactGroups []string `json:"contact_groups"`
}

// Policy is a notification policy (PRODUCT.md §4). Decoding JSON fills in
// the defaults and validates; a Policy built in Go gets no defaults — its
// zero durations fail Validate.
type Policy struct {
	ID       string
	Name     string
	Position int
	// Matchers select alerts; none matches every alert, so the last policy
	// is usually the catch-all.
	Matchers Matchers
	// Targets may be empty: the policy then swallows what it matches and
	// notifies no one, like Alertmanager's route to a null receiver.
	Targets Targets
	// GroupBy names the labels whose values form a group; empty puts all of
	// the policy's alerts in one group; [GroupByAll] makes every label set
	// its own group.
	GroupBy        []string
	GroupWait      time.Duration // from a group's first alert to its first notification
	GroupInterval  time.Duration // between checks of a group once notified
	RepeatInterval time.Duration // before an unchanged group is notified again
	SendResolved   bool
	// Continue lets an alert this policy matches go on to later policies.
	Continue        bool
	MuteTimeWindows []TimeWindow
	Mention         Mention
}

// Matches reports whether the policy's matchers select ls.
func (p *Policy) Matches(ls alert.Labels) bool { return p.Matchers.Matches(ls) }

// Muted reports whether one of the policy's mute time windows is active at
// now. Muting holds notifications back; it does not change routing.
func (p *Policy) Muted(now time.Time) bool {
	for _, w := range p.MuteTimeWindows {
		if w.Active(now) {
			return true
		}
	}
	return false
}

// GroupLabels returns the labels of ls that define its group under p:
// those named in GroupBy that ls has, or all of them with GroupByAll. A
// group_by label the alert lacks is left out, as in Alertmanager.
func (p *Policy) GroupLabels(ls alert.Labels) alert.Labels {
	if slices.Contains(p.GroupBy, GroupByAll) {
		return slices.Clone(ls)
	}
	out := alert.Labels{}
	for _, l := range ls {
		if slices.Contains(p.GroupBy, l.Name) {
			out = append(out, l)
		}
	}
	return out
}

// GroupKey identifies the aggregation group of ls under p: the policy id
// and the group labels, as `<id>:{alertname="X", team="sre"}`. It is stable
// across restarts and label order, and changes when the policy's group_by
// does (old groups then run out on their own).
func (p *Policy) GroupKey(ls alert.Labels) string {
	_, key := p.Group(ls)
	return key
}

// Group returns both the group labels of ls and its group key, computing
// the labels once.
func (p *Policy) Group(ls alert.Labels) (labels alert.Labels, key string) {
	gl := p.GroupLabels(ls)
	return gl, p.ID + ":" + gl.String()
}

// Route returns the policies ls goes to, in order: the first matching
// policy by (Position, ID), then further matches while the last one matched
// has Continue set. Nil means unrouted. Muting is not considered: a muted
// policy still claims the alert. policies is not reordered; when it is
// already sorted (as a store returns it) Route allocates only its result.
func Route(policies []Policy, ls alert.Labels) []*Policy {
	var out []*Policy
	visit := func(p *Policy) bool {
		if !p.Matches(ls) {
			return true
		}
		out = append(out, p)
		return p.Continue
	}
	byPosition := func(a, b *Policy) int {
		return cmp.Or(cmp.Compare(a.Position, b.Position), strings.Compare(a.ID, b.ID))
	}
	sorted := true
	for i := 1; i < len(policies) && sorted; i++ {
		sorted = byPosition(&policies[i-1], &policies[i]) <= 0
	}
	if sorted {
		for i := range policies {
			if !visit(&policies[i]) {
				break
			}
		}
		return out
	}
	order := make([]*Policy, len(policies))
	for i := range policies {
		order[i] = &policies[i]
	}
	slices.SortStableFunc(order, byPosition)
	for _, p := range order {
		if !visit(p) {
			break
		}
	}
	return out
}

// Validate checks a policy, naming each problem by its JSON path. It
// returns *problem.List or nil.
func (p *Policy) Validate() error {
	var probs problem.List
	p.validate(&probs)
	return probs.Err()
}

func (p *Policy) validate(probs *problem.List) {
	switch n := utf8.RuneCountInString(p.Name); {
	case strings.TrimSpace(p.Name) == "":
		probs.Add("name", "required", "a policy needs a name, like \"sre critical\"")
	case n > MaxNameLen:
		probs.Add("name", "too-long", "a name must be at most %d characters, got %d", MaxNameLen, n)
	}
	probs.Names("targets.channels", p.Targets.Channels, "a channel id or name")
	probs.Names("targets.contact_groups", p.Targets.ContactGroups, "a contact group id or name")
	probs.Names("group_by", p.GroupBy, "a label name")
	if len(p.GroupBy) > 1 && slices.Contains(p.GroupBy, GroupByAll) {
		probs.Add("group_by", "conflict", `"..." groups by every label and cannot be combined with other names; use ["..."] alone or list the labels`)
	}
	if !probs.Has("group_wait") && p.GroupWait < 0 {
		probs.Add("group_wait", "out-of-range", "group_wait must not be negative; 0s notifies a group's first alerts at once")
	}
	if !probs.Has("group_interval") && p.GroupInterval <= 0 {
		probs.Add("group_interval", "out-of-range", "group_interval must be more than 0, such as 5m")
	}
	if !probs.Has("repeat_interval") && p.RepeatInterval <= 0 {
		probs.Add("repeat_interval", "out-of-range", "repeat_interval must be more than 0, such as 4h")
	}
	if !probs.Has("group_interval") && !probs.Has("repeat_interval") && p.GroupInterval > 0 && p.RepeatInterval > 0 && p.RepeatInterval < p.GroupInterval {
		// Refused rather than warned: repeats happen only at a group's
		// checks, so the setting would silently act as group_interval.
		probs.Add("repeat_interval", "out-of-range",
			"repeat_interval (%s) is shorter than group_interval (%s); a group is only checked every group_interval, so it could repeat no sooner; set repeat_interval to %s or more",
			formatDuration(p.RepeatInterval), formatDuration(p.GroupInterval), formatDuration(p.GroupInterval))
	}
	for i, w := range p.MuteTimeWindows {
		w.validate(probs, fmt.Sprintf("mute_time_windows[%d]", i))
	}
	switch p.Mention {
	case "", MentionNone, MentionCritical, MentionAlways:
	default:
		probs.Add("mention", "invalid-value", "mention %q is not known: use none, critical or always", p.Mention)
	}
}

// policyJSON is the wire form. Pointers tell an absent field (default)
// from a given one.
type policyJSON struct {
	ID              string           `json:"id"`
	Name            string           `json:"name"`
	Position        int              `json:"position"`
	Matchers        []string         `json:"matchers"`
	Targets         Targets          `json:"targets"`
	GroupBy         []string         `json:"group_by"`
	GroupWait       *string          `json:"group_wait"`
	GroupInterval   *string          `json:"group_interval"`
	RepeatInterval  *string          `json:"repeat_interval"`
	SendResolved    *bool            `json:"send_resolved"`
	Continue        bool             `json:"continue"`
	MuteTimeWindows []timeWindowJSON `json:"mute_time_windows"`
	Mention         Mention          `json:"mention"`
}

// MarshalJSON writes the PRODUCT.md §4 form, every field present, durations
// short ("5m", "1d"), one matcher per string.
func (p Policy) MarshalJSON() ([]byte, error) {
	gw, gi, ri := formatDuration(p.GroupWait), formatDuration(p.GroupInterval), formatDuration(p.RepeatInterval)
	j := policyJSON{
		ID: p.ID, Name: p.Name, Position: p.Position,
		Matchers: p.Matchers.Strings(),
		Targets: Targets{
			Channels:      orEmpty(p.Targets.Channels),
			ContactGroups: orEmpty(p.Targets.ContactGroups),
		},
		GroupBy:   orEmpty(p.GroupBy),
		GroupWait: &gw, GroupInterval: &gi, RepeatInterval: &ri,
		SendResolved:    &p.SendResolved,
		Continue:        p.Continue,
		MuteTimeWindows: []timeWindowJSON{},
		Mention:         cmp.Or(p.Mention, MentionNone),
	}
	for _, w := range p.MuteTimeWindows {
		j.MuteTimeWindows = append(j.MuteTimeWindows, w.toJSON())
	}
	return json.Marshal(j)
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// UnmarshalJSON reads the PRODUCT.md §4 form strictly (an unknown field is
// an error), applies the defaults — group_wait 30s, group_interval 5m,
// repeat_interval 4h, send_resolved true, mention none; an empty string
// counts as absent — and validates. Its error is *problem.List listing every
// problem found.
func (p *Policy) UnmarshalJSON(data []byte) error {
	if string(bytes.TrimSpace(data)) == "null" {
		return nil
	}
	var j policyJSON
	if err := problem.DecodeStrict(data, &j, ""); err != nil {
		return err
	}
	var probs problem.List
	pol := Policy{
		ID:       strings.TrimSpace(j.ID),
		Name:     strings.TrimSpace(j.Name),
		Position: j.Position,
		Matchers: parseMatcherList(&probs, "matchers", j.Matchers),
		Targets: Targets{
			Channels:      trimAll(j.Targets.Channels),
			ContactGroups: trimAll(j.Targets.ContactGroups),
		},
		GroupBy:        trimAll(j.GroupBy),
		GroupWait:      durationField(&probs, "group_wait", j.GroupWait, DefaultGroupWait),
		GroupInterval:  durationField(&probs, "group_interval", j.GroupInterval, DefaultGroupInterval),
		RepeatInterval: durationField(&probs, "repeat_interval", j.RepeatInterval, DefaultRepeatInterval),
		SendResolved:   j.SendResolved == nil || *j.SendResolved,
		Continue:       j.Continue,
		Mention:        Mention(strings.ToLower(strings.TrimSpace(string(j.Mention)))),
	}
	if pol.Mention == "" {
		pol.Mention = MentionNone
	}
	for i, w := range j.MuteTimeWindows {
		pol.MuteTimeWindows = append(pol.MuteTimeWindows, w.parse(&probs, fmt.Sprintf("mute_time_windows[%d]", i)))
	}
	pol.validate(&probs)
	if err := probs.Err(); err != nil {
		return err
	}
	*p = pol
	return nil
}

// trimAll trims every entry; an empty list becomes nil, so [] and an
// absent field decode alike.
func trimAll(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = strings.TrimSpace(v)
	}
	return out
}

func durationField(probs *problem.List, field string, s *string, def time.Duration) time.Duration {
	if s == nil || strings.TrimSpace(*s) == "" {
		return def
	}
	d, err := parseDuration(*s)
	if err != nil {
		probs.Add(field, "invalid-duration", "%v", err)
		return def
	}
	return d
}

// parseMatcherList parses matcher strings (each may hold several, as in
// {a="1", b="2"}), naming a bad one by its index.
func parseMatcherList(probs *problem.List, field string, list []string) Matchers {
	var out Matchers
	for i, s := range list {
		f := fmt.Sprintf("%s[%d]", field, i)
		if strings.TrimSpace(s) == "" {
			probs.Add(f, "required", `a matcher is empty: write one such as team="sre", or remove it`)
			continue
		}
		ms, err := ParseMatchers(s)
		if err != nil {
			probs.Add(f, "invalid-matcher", "%v", err)
			continue
		}
		out = append(out, ms...)
	}
	return out
}
