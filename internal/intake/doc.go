// Package intake decodes every alert payload Tocsin accepts into alert.Alert
// values (and Event values), and encodes alerts the way Alertmanager's
// GET /api/v2/alerts does:
//
//   - DecodePostableAlerts: Alertmanager API v2 POST /api/v2/alerts, so
//     Prometheus, vmalert, Loki and Thanos ruler can use Tocsin as their
//     Alertmanager.
//   - DecodeWebhook: Alertmanager's webhook notification (version 4), for
//     the drop-in relay endpoint.
//   - DecodeGrafana: Grafana Alerting's webhook contact point (version 1).
//   - DecodeNative: Tocsin's own alert API, the v2 shape plus severity and
//     source.
//   - DecodeEvents: cloud-monitor style events.
//   - NewGettableAlert: an alert as Alertmanager's gettableAlert.
//
// The package is pure: no HTTP, no storage, no clock. Callers pass a body
// that is already size-capped and the time it arrived. All times come back
// in UTC.
//
// A refusal is always an *alert.ValidationError (errors.Is(err,
// alert.ErrInvalid)) listing every problem found, at most one per field,
// each named by its JSON path ("[3].labels", "alerts[0].endsAt",
// "[2].labels.severity"), so a sender fixes them all in one go. A batch with
// one bad alert is refused whole: nothing is half-applied.
//
// How strict. JSON syntax, UTF-8, the JSON type of every field Tocsin reads
// and RFC 3339 times are checked on every intake: a wrong type is reported,
// never silently zeroed. Unknown fields differ by who writes the sender:
// bodies from software Tocsin does not control (Prometheus, vmalert, Loki,
// Alertmanager, Grafana) are decoded as Alertmanager decodes them, ignoring
// unknown fields, because those senders add fields from one version to the
// next and refusing their alerts would page nobody. Tocsin's own APIs
// (native alerts, events) refuse unknown fields, so a typo such as
// "annotation" is caught instead of silently dropped.
//
// Speed. The v2 path must take tens of thousands of alerts a second, so a
// well-formed batch is read by a hand-written single pass (scan.go) with no
// reflection and no maps, interning the strings a batch repeats. Anything
// it is not sure to read exactly as encoding/json would goes to
// encoding/json instead, and when that fails a token walk names every field
// at fault. A fuzz test holds the two paths to the same result. The other
// intakes see far less traffic and use encoding/json directly.
package intake
