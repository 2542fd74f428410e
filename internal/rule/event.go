package rule

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/intake"
	"github.com/tocsinhq/tocsin/internal/problem"
)

// Event rule timing.
const (
	// DefaultResolveAfter ends an event rule's alert when the rule sets
	// neither ResolveAfter nor ResolveWhen: an event is a moment, and an
	// alert nothing ends would stay open for ever. Decoding JSON writes it
	// into resolve_after, so people see it.
	DefaultResolveAfter = 30 * time.Minute
	// EventOpenFor is how long an alert of a rule resolved only by a paired
	// event (ResolveWhen, no ResolveAfter) stays open when no resolving
	// event comes. Its EndsAt cannot be left zero: the alert pipeline ends
	// an alert sent without an end after its resolve timeout (5m), as
	// Alertmanager does; a week also bounds the harm of a lost resolving
	// event.
	EventOpenFor = 7 * 24 * time.Hour
	// MaxContentLen bounds the content annotation of an event's alert, in
	// bytes; longer content is cut at a character boundary and ends in "…".
	MaxContentLen = 1024
)

// defaultKey is the Key of an EventMatch that sets none: one alert per
// sender and resource.
var defaultKey = []string{"source", "resource"}

// Field operators of event conditions; "" reads as OpEqual.
const (
	OpEqual     = "="
	OpNotEqual  = "!="
	OpRegexp    = "=~"
	OpNotRegexp = "!~"
	OpIn        = "in"
)

// key returns the fields that identify an alert of the rule.
func (m *EventMatch) key() []string {
	if len(m.Key) == 0 {
		return defaultKey
	}
	return m.Key
}

// Matches reports whether e raises an alert of the rule (every When
// condition holds) or resolves one (every ResolveWhen condition holds).
// When both hold, the event resolves: the resolving conditions are
// usually the narrower ones ("type is StateChange" raises, "… and the new
// state is Running" resolves). A condition that could not be read (an
// unknown field, a bad regular expression: Validate refuses both) never
// holds.
func (m *EventMatch) Matches(e *intake.Event) (raise, resolve bool) {
	v := eventView{e: e}
	resolve = len(m.ResolveWhen) > 0 && v.all(m.ResolveWhen)
	raise = !resolve && len(m.When) > 0 && v.all(m.When)
	return raise, resolve
}

// EventAlert returns the alert e raises or resolves under an event rule,
// and false when e matches neither way (or r is no event rule). eventID
// is Tocsin's id of the stored event.
//
// Labels, which make the alert's identity: alertname (the rule's name),
// the rule's labels, severity (the rule's, else the event's level) and the
// values of the Key fields, named source, type, level, resource, region,
// or <name> for labels.<name> (a field with no value adds no label). So
// the raising and the resolving event of one resource name the same
// alert: Validate makes a rule with ResolveWhen set a severity, and keeps
// level out of its Key.
//
// Annotations: event_id, event_type, event_level, event_time (RFC 3339,
// UTC) and content (the content as text, cut to MaxContentLen bytes), then
// the rule's annotations, which are Prometheus templates (the same
// functions) over $labels (the alert's labels) and $event (an EventData:
// $event.Type, $event.Content, {{ $event.Field "content.currentState" }}…);
// a rule's annotation of the same name wins. A template that fails gives
// "<error expanding template: …>", as in Prometheus.
//
// Times: StartsAt is the event's time. A raising event's alert ends
// ResolveAfter after it, or EventOpenFor after it when only a resolving
// event ends it (ResolveWhen set, ResolveAfter 0), or DefaultResolveAfter
// after it when the rule sets neither. A resolving event's alert has
// EndsAt = StartsAt = the event's time: the pipeline keeps the earlier
// start of the alert it resolves. Source is "rule"; GeneratorURL is left
// for the caller.
func (r *Rule) EventAlert(e *intake.Event, eventID string) (alert.Alert, bool) {
	if r.Kind != KindEvent || r.Match == nil {
		return alert.Alert{}, false
	}
	raise, resolve := r.Match.Matches(e)
	if !raise && !resolve {
		return alert.Alert{}, false
	}
	v := eventView{e: e}
	ls := maps.Clone(r.Labels)
	if ls == nil {
		ls = map[string]string{}
	}
	sev := r.Severity
	if sev == alert.Unknown {
		sev = e.Level
	}
	if sev != alert.Unknown {
		ls["severity"] = string(sev)
	}
	for _, k := range r.Match.key() {
		if ref, err := parseKeyField(k); err == nil {
			ls[ref.labelName()] = v.get(ref)
		}
	}
	ls["alertname"] = r.Name
	lbls := alert.FromMap(ls)

	ann := map[string]string{
		"event_id":    eventID,
		"event_type":  e.Type,
		"event_level": string(e.Level),
		"content":     cut(e.ContentText(), MaxContentLen),
	}
	if !e.Time.IsZero() {
		ann["event_time"] = e.Time.UTC().Format(time.RFC3339)
	}
	if len(r.Annotations) > 0 {
		data := eventTemplateData{Labels: lbls.Map(), Event: newEventData(&v, eventID)}
		for name, text := range r.Annotations {
			ann[name] = expandEventTemplate(r.Name, text, data, e.Time)
		}
	}

	a := alert.Alert{
		Fingerprint: lbls.Fingerprint(),
		Labels:      lbls,
		Annotations: alert.FromMap(ann),
		StartsAt:    e.Time,
		Source:      "rule",
		Severity:    sev,
	}
	switch {
	case resolve:
		a.EndsAt = e.Time
	case r.Match.ResolveAfter > 0:
		a.EndsAt = e.Time.Add(r.Match.ResolveAfter.Std())
	case len(r.Match.ResolveWhen) > 0:
		a.EndsAt = e.Time.Add(EventOpenFor)
	default:
		a.EndsAt = e.Time.Add(DefaultResolveAfter)
	}
	return a, true
}

// cut shortens s to at most n bytes at a character boundary, ending in
// "…" when it cut.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const ellipsis = "…"
	i := n - len(ellipsis)
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + ellipsis
}

// EventData is $event in an event rule's annotation templates: the event
// that raised or resolved the alert.
type EventData struct {
	// ID is Tocsin's id of the stored event.
	ID       string
	Source   string
	Type     string
	Level    string
	Resource string
	Region   string
	Time     time.Time
	// Content is the whole content as text: a string content's text, or
	// the JSON of an object.
	Content string
	Labels  map[string]string

	view *eventView
}

// Field returns the value of a field path as conditions read it:
// "content.currentState", "labels.env", "resource"…; "" for an unknown
// path or a missing value.
func (d EventData) Field(path string) string {
	ref, err := parseField(path)
	if err != nil || d.view == nil {
		return ""
	}
	return d.view.get(ref)
}

func newEventData(v *eventView, id string) EventData {
	return EventData{
		ID: id, Source: v.e.Source, Type: v.e.Type, Level: string(v.e.Level),
		Resource: v.e.Resource, Region: v.e.Region, Time: v.e.Time,
		Content: v.e.ContentText(), Labels: v.e.Labels.Map(),
		view: v,
	}
}

// fieldKind is what a field path reads.
type fieldKind int

const (
	fieldSource fieldKind = iota
	fieldType
	fieldLevel
	fieldResource
	fieldRegion
	fieldContent    // the whole content, as text
	fieldContentKey // a top-level key of an object content
	fieldLabel      // an event label
)

// fieldRef is a parsed field path.
type fieldRef struct {
	kind fieldKind
	key  string // fieldContentKey's key, fieldLabel's label name
}

var plainFields = map[string]fieldKind{
	"source": fieldSource, "type": fieldType, "level": fieldLevel,
	"resource": fieldResource, "region": fieldRegion, "content": fieldContent,
}

const fieldsKnown = "source, type, level, resource, region, content, content.<key> or labels.<name>"

// parseField reads a condition's field path. After "content." comes one
// top-level key, taken whole: content.a.b reads the key "a.b".
func parseField(s string) (fieldRef, error) {
	if k, ok := plainFields[s]; ok {
		return fieldRef{kind: k}, nil
	}
	if key, ok := strings.CutPrefix(s, "content."); ok {
		if key == "" || !utf8.ValidString(key) {
			return fieldRef{}, fmt.Errorf("content. needs a key of the event's content, such as content.currentState")
		}
		return fieldRef{kind: fieldContentKey, key: key}, nil
	}
	if name, ok := strings.CutPrefix(s, "labels."); ok {
		if name == "" || !utf8.ValidString(name) {
			return fieldRef{}, fmt.Errorf("labels. needs a label name, such as labels.env")
		}
		return fieldRef{kind: fieldLabel, key: name}, nil
	}
	if s == "" {
		return fieldRef{}, fmt.Errorf("name the field: %s", fieldsKnown)
	}
	return fieldRef{}, fmt.Errorf("field %q is not known: use %s", s, fieldsKnown)
}

// parseKeyField reads a Key entry: a field whose value can name an alert.
func parseKeyField(s string) (fieldRef, error) {
	ref, err := parseField(s)
	switch {
	case err != nil:
		return fieldRef{}, fmt.Errorf("key field %q is not known: use source, type, level, resource, region or labels.<name>", s)
	case ref.kind == fieldContent || ref.kind == fieldContentKey:
		return fieldRef{}, fmt.Errorf("content cannot be part of the key: an alert's labels come from source, type, level, resource, region or labels.<name>")
	case ref.kind == fieldLabel && (ref.key == "alertname" || ref.key == "severity"):
		return fieldRef{}, fmt.Errorf("labels.%s cannot be part of the key: the alert's %s comes from the rule", ref.key, ref.key)
	}
	return ref, nil
}

// labelName is the alert label a key field becomes.
func (f fieldRef) labelName() string {
	switch f.kind {
	case fieldSource:
		return "source"
	case fieldType:
		return "type"
	case fieldLevel:
		return "level"
	case fieldResource:
		return "resource"
	case fieldRegion:
		return "region"
	}
	return f.key
}

// eventView reads an event's fields, decoding an object content once.
type eventView struct {
	e       *intake.Event
	decoded bool
	content map[string]json.RawMessage // nil unless the content is an object
}

func (v *eventView) get(f fieldRef) string {
	switch f.kind {
	case fieldSource:
		return v.e.Source
	case fieldType:
		return v.e.Type
	case fieldLevel:
		return string(v.e.Level)
	case fieldResource:
		return v.e.Resource
	case fieldRegion:
		return v.e.Region
	case fieldContent:
		return v.e.ContentText()
	case fieldLabel:
		return v.e.Labels.Get(f.key)
	}
	if !v.decoded {
		v.decoded = true
		if len(v.e.Content) > 0 && v.e.Content[0] == '{' {
			_ = json.Unmarshal(v.e.Content, &v.content) // not an object: no keys
		}
	}
	raw, ok := v.content[f.key]
	if !ok {
		return ""
	}
	return jsonText(raw)
}

// jsonText is a JSON value as text: a string's text, "" for null, the
// JSON itself for anything else.
func jsonText(raw json.RawMessage) string {
	var s string
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return ""
	case raw[0] == '"' && json.Unmarshal(raw, &s) == nil:
		return s
	}
	return string(raw)
}

// all reports whether every condition holds.
func (v *eventView) all(conds []FieldMatch) bool {
	for i := range conds {
		if !conds[i].holds(v) {
			return false
		}
	}
	return true
}

// holds reports whether the condition holds for the event. Regular
// expressions are anchored at both ends, as in PromQL: =~ "Stop" matches
// only "Stop".
func (c *FieldMatch) holds(v *eventView) bool {
	ref, err := parseField(c.Field)
	if err != nil {
		return false
	}
	val := v.get(ref)
	switch c.Op {
	case "", OpEqual:
		return val == c.Value
	case OpNotEqual:
		return val != c.Value
	case OpRegexp, OpNotRegexp:
		re := regexps.get(c.Value)
		return re != nil && re.MatchString(val) == (c.Op == OpRegexp)
	case OpIn:
		return slices.Contains(c.Values, val)
	}
	return false
}

// regexps caches compiled regular expressions of event conditions: rules
// are matched against every event, and compiling is the costly part.
var regexps = regexpCache{limit: 4096}

type regexpCache struct {
	limit int

	mu sync.Mutex
	// m holds nil for an expression that does not compile. It is emptied
	// when it reaches limit: rules change rarely, so it refills with what
	// is in use.
	m map[string]*labels.FastRegexMatcher
}

func (c *regexpCache) get(re string) *labels.FastRegexMatcher {
	c.mu.Lock()
	defer c.mu.Unlock()
	if m, ok := c.m[re]; ok {
		return m
	}
	if c.m == nil || len(c.m) >= c.limit {
		c.m = map[string]*labels.FastRegexMatcher{}
	}
	m, err := labels.NewFastRegexMatcher(re)
	if err != nil {
		m = nil
	}
	c.m[re] = m
	return m
}

// validate checks an event rule's match, naming fields under field.
func (m *EventMatch) validate(probs *problem.List, field string) {
	at := func(s string) string { return field + "." + s }
	if len(m.When) == 0 {
		probs.Add(at("when"), "required", `say which events raise an alert, such as [{"field": "type", "op": "=", "value": "Instance:StateChange"}]`)
	}
	for i := range m.When {
		m.When[i].validate(probs, fmt.Sprintf("%s[%d]", at("when"), i))
	}
	for i := range m.ResolveWhen {
		m.ResolveWhen[i].validate(probs, fmt.Sprintf("%s[%d]", at("resolve_when"), i))
	}
	if m.ResolveAfter < 0 && !probs.Has(at("resolve_after")) {
		probs.Add(at("resolve_after"), "out-of-range", "resolve_after must not be negative; 0s leaves the alert to resolve_when")
	}
	for i, k := range m.Key {
		f := fmt.Sprintf("%s[%d]", at("key"), i)
		ref, err := parseKeyField(k)
		switch {
		case err != nil:
			probs.Add(f, "invalid-value", "%v", err)
		case slices.Contains(m.Key[:i], k):
			probs.Add(f, "duplicate", "%q is listed twice", k)
		case ref.kind == fieldLevel && len(m.ResolveWhen) > 0:
			probs.Add(f, "conflict", "level cannot be part of the key of a rule resolved by a paired event: the resolving event's level differs, so it would never find the alert")
		}
	}
}

// validate checks one condition, naming fields under field.
func (c *FieldMatch) validate(probs *problem.List, field string) {
	at := func(s string) string { return field + "." + s }
	ref, err := parseField(c.Field)
	if err != nil {
		probs.Add(at("field"), "invalid-value", "%v", err)
	}
	switch c.Op {
	case "", OpEqual, OpNotEqual, OpRegexp, OpNotRegexp:
		if len(c.Values) > 0 {
			probs.Add(at("values"), "conflict", "values go with op in; for %s write one value", cmp.Or(c.Op, OpEqual))
		}
	case OpIn:
		if len(c.Values) == 0 {
			probs.Add(at("values"), "required", `in needs values to compare with, such as ["Stopped", "Stopping"]`)
		}
		if c.Value != "" {
			probs.Add(at("value"), "conflict", "in compares with values: move %q into values", c.Value)
		}
	default:
		probs.Add(at("op"), "invalid-value", "op %q is not known: use =, !=, =~, !~ (regular expressions matched against the whole value) or in", c.Op)
		return
	}
	if !utf8.ValidString(c.Value) {
		probs.Add(at("value"), "invalid-value", "the value is not valid UTF-8")
	}
	for i, s := range c.Values {
		if !utf8.ValidString(s) {
			probs.Add(fmt.Sprintf("%s[%d]", at("values"), i), "invalid-value", "the value is not valid UTF-8")
		}
	}
	if c.Op == OpRegexp || c.Op == OpNotRegexp {
		checkRegexp(probs, at("value"), c.Value)
	}
	if err == nil && ref.kind == fieldLevel && !probs.Has(field) {
		// Levels arrive as critical, warning or info whatever the sender
		// wrote, so any other plain value can never match.
		checkLevel := func(f, s string) {
			switch alert.Severity(s) {
			case alert.Critical, alert.Warning, alert.Info:
			default:
				probs.Add(f, "invalid-value", "levels are critical, warning or info (events' levels are read into these), so %q never matches", s)
			}
		}
		switch c.Op {
		case OpIn:
			for i, s := range c.Values {
				checkLevel(fmt.Sprintf("%s[%d]", at("values"), i), s)
			}
		case "", OpEqual, OpNotEqual:
			checkLevel(at("value"), c.Value)
		}
	}
}
