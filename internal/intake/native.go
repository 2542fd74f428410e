package intake

import (
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tocsinhq/tocsin/internal/alert"
)

// MaxSourceLen bounds a native alert's or an event's source, in characters.
const MaxSourceLen = 100

// nativeAlert is Tocsin's own alert: Alertmanager's postable alert plus a
// severity and the name of the system that sent it.
type nativeAlert struct {
	postableAlert
	Severity string `json:"severity"`
	Source   string `json:"source"`
}

var nativeShape = &shape{
	kind: kindOneOrMany,
	want: "an alert object or a JSON array of alerts",
	elem: &shape{
		kind:   kindObject,
		want:   "an alert object",
		noun:   "an alert",
		strict: true,
		fields: append(slices.Clip(postableFields), field{"severity", stringShape}, field{"source", stringShape}),
	},
}

// DecodeNative decodes the body of Tocsin's POST /api/v1/alerts: one alert
// object, or a JSON array of them (paths then start with "[i]"). An alert
// is what DecodePostableAlerts takes, decoded the same way, plus:
//
//   - severity (optional): critical, warning or info, or a common spelling
//     alert.ParseSeverity knows (P1, crit, warn…); anything else is a
//     problem. It sets Alert.Severity and, when the labels have no severity
//     label, adds severity=<critical|warning|info> to them, so policies
//     matching on severity see it (the label is part of the fingerprint,
//     as in Prometheus). A severity label that reads as another severity is
//     a problem.
//   - source (optional): the sending system, kept in Alert.Source;
//     SourceNative when absent.
//
// Unknown fields are refused: this is Tocsin's own API, and a typo should
// not silently drop what the sender meant to say.
func DecodeNative(data []byte, now time.Time) ([]alert.Alert, error) {
	var p problems
	in, single, ok := decodeOneOrMany[nativeAlert](&p, data, nativeShape)
	if !ok {
		return nil, p.err()
	}
	out := make([]alert.Alert, len(in))
	for i := range in {
		out[i] = p.native(&in[i], at{index: i, whole: single}, now)
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return out, nil
}

func (p *problems) native(in *nativeAlert, w at, now time.Time) alert.Alert {
	source := strings.TrimSpace(in.Source)
	if n := utf8.RuneCountInString(source); n > MaxSourceLen {
		p.add(w.field("source"), "must be at most %d characters, got %d", MaxSourceLen, n)
	}
	if source == "" {
		source = SourceNative
	}
	parsed := in.parsed()
	a := p.postable(&parsed, w, now, source)
	field := w.field("severity")
	if in.Severity == "" || p.tainted(field) {
		return a
	}
	sev := alert.ParseSeverity(in.Severity)
	if sev == alert.Unknown {
		p.add(field, "%q is not a severity: use critical, warning or info", in.Severity)
		return a
	}
	a.Severity = sev
	if label := a.Labels.Get("severity"); label != "" {
		if ls := alert.ParseSeverity(label); ls != alert.Unknown && ls != sev {
			p.add(field, "%q disagrees with the severity label %q: send one, or make them agree", in.Severity, label)
		}
		return a
	}
	i, _ := slices.BinarySearchFunc(a.Labels, "severity", func(l alert.Label, name string) int { return strings.Compare(l.Name, name) })
	a.Labels = slices.Insert(a.Labels, i, alert.Label{Name: "severity", Value: string(sev)})
	a.Fingerprint = a.Labels.Fingerprint()
	return a
}
