// Package route decides who hears about an alert, and when: notification
// policies with Alertmanager's label matchers, aggregation-group timing,
// mute time windows, silences and inhibition. It is pure logic — no I/O, no
// clock; everything that depends on time takes now — so the caller (the
// dispatcher) owns storage and scheduling, and tests can walk any timeline.
//
// # Matchers
//
// ParseMatchers reads Alertmanager's syntax: team="sre", severity!=info,
// job=~"node|db", instance!~"test-.*", alone, comma-separated or in braces.
// Regexes are anchored at both ends. A label an alert lacks reads as the
// empty string, so team!="sre" and team="" both match it. Matcher.String
// renders a canonical form that parses back to an equal matcher; the JSON
// form is Alertmanager API v2's {"name","value","isRegex","isEqual"}.
//
// # Policies and routing
//
// Route tries policies by Position (then ID): the first policy whose
// matchers all match takes the alert, and later ones too while the last
// taker has Continue set. A policy without matchers matches everything;
// an alert nothing matches is unrouted (nil) and notifies no one.
//
// Within a policy, alerts with equal values of the GroupBy labels form an
// aggregation group (GroupKey). GroupState is the group's persisted timer
// and memory; Decide says at each check whether to send:
//
//	t=0      first alert A arrives      StartGroup: first check at group_wait (30s)
//	t=10s    B joins                    waits for that check
//	t=30s    check                      notify A, B; next check group_interval later (5m30s)
//	t=40s    C joins                    waits for the next check, not for group_wait
//	t=3m     B resolves                 nothing yet
//	t=5m30s  check                      notify A, C firing and B resolved (send_resolved)
//	…        a check every 5m           nothing changed: silent
//	4h5m30s  check                      repeat_interval (4h) has passed: notify A, C again
//	later    A and C resolve, check     notify them resolved; the group is dropped
//
// A policy's mute time windows hold its notifications back while one is
// active (in the window's own time zone); what is new afterwards goes out
// at the first check after the window.
//
// # Silences and inhibition
//
// Silences follow Alertmanager's v2 model and rules (State, Validate,
// Expire); Silenced lists the active silences matching an alert.
// Inhibited says whether a firing source alert quiets a target under an
// InhibitRule. The dispatcher drops silenced and inhibited alerts from a
// group before calling Decide, as Alertmanager's pipeline does.
//
// # Zero values
//
// The zero Matcher matches everything (name "" is never set); nil Matchers
// match everything. The zero Policy matches everything but does not
// validate (its intervals are 0); JSON decoding is where defaults come
// from. The zero GroupState is a group that does not exist yet. A zero
// TimeWindow is refused by validation (it would mute forever). A zero
// Silence is expired.
package route
