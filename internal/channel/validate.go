package channel

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tocsinhq/tocsin/internal/problem"
	"github.com/tocsinhq/tocsin/internal/secret"
)

// MaxNameLen bounds a channel name, in characters.
const MaxNameLen = 100

// Validate checks in and returns the channel it describes, normalised
// (trimmed names, expanded webhook tokens, sorted report times). Every
// problem is reported at once, as *problem.List. Masked secrets are kept as
// given; call KeepSecrets with the stored channel to restore them.
func Validate(in *Input, env Env) (*Channel, error) {
	var p problem.List
	ch := &Channel{
		Name:        strings.TrimSpace(in.Name),
		Kind:        in.Kind,
		Description: strings.TrimSpace(in.Description),
		Enabled:     in.Enabled == nil || *in.Enabled,
		Timezone:    strings.TrimSpace(in.Timezone),
	}
	switch n := utf8.RuneCountInString(ch.Name); {
	case n == 0:
		p.Add("name", "required", "a channel needs a name, like \"sre-oncall\"")
	case n > MaxNameLen:
		p.Add("name", "too-long", "a name must be at most %d characters, got %d", MaxNameLen, n)
	case strings.ContainsAny(ch.Name, "/\\\r\n\t"):
		p.Add("name", "invalid-name", "a name must not contain slashes, tabs or line breaks (it appears in URLs such as /hooks/alertmanager/{channel})")
	}
	if utf8.RuneCountInString(ch.Description) > 1000 {
		p.Add("description", "too-long", "a description must be at most 1000 characters")
	}
	if ch.Timezone != "" {
		if _, err := time.LoadLocation(ch.Timezone); err != nil {
			p.Add("timezone", "invalid-timezone", "%q is not an IANA time zone: use a name like Asia/Shanghai or UTC", ch.Timezone)
		}
	}
	settings, err := newSettings(in.Kind)
	switch {
	case in.Kind == "":
		p.Add("kind", "required", "kind is required: one of %s", kindList())
	case err != nil:
		p.Add("kind", "unsupported-kind", "%v", err)
	case len(in.Settings) == 0 || string(in.Settings) == "null":
		p.Add("settings", "required", "settings are required for kind %s", in.Kind)
	default:
		// A settings field that does not decode is one more problem:
		// report it with the others instead of stopping here.
		if err := problem.DecodeStrict(in.Settings, settings, "settings"); err != nil {
			if !p.Merge(err) {
				return nil, err
			}
		} else {
			settings.validate(&p, env)
			ch.Settings = settings
		}
	}
	if in.DailyReport != nil {
		ch.DailyReport = validateReport(&p, in.DailyReport)
	}
	if len(in.Card) > 0 && string(in.Card) != "null" {
		var obj map[string]any
		if json.Unmarshal(in.Card, &obj) != nil {
			p.Add("card", "invalid-type", "card must be a JSON object")
		} else {
			ch.Card = in.Card
		}
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	return ch, nil
}

func newSettings(k Kind) (Settings, error) {
	switch k {
	case KindDingTalkRobot:
		return &DingTalkRobot{}, nil
	case KindDingTalkApp:
		return &DingTalkApp{}, nil
	case KindLarkRobot:
		return &LarkRobot{}, nil
	case KindWeComRobot:
		return &WeComRobot{}, nil
	case KindWebhook:
		return &Webhook{}, nil
	}
	return nil, fmt.Errorf("kind %q is not supported: use one of %s", k, kindList())
}

// NewSettings returns empty settings of kind k, for stores decoding rows.
func NewSettings(k Kind) (Settings, error) { return newSettings(k) }

func kindList() string {
	names := make([]string, len(Kinds))
	for i, k := range Kinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}

func validateReport(p *problem.List, in *reportInput) DailyReport {
	out := DailyReport{Timezone: strings.TrimSpace(in.Timezone)}
	for i, t := range in.Times {
		hm, err := time.Parse("15:04", t)
		if err != nil || len(t) != 5 {
			p.Add(fmt.Sprintf("daily_report.times[%d]", i), "invalid-time", "%q is not a time of day: use HH:mm in 24-hour form, like 09:00 or 18:30", t)
			continue
		}
		out.Times = append(out.Times, hm.Format("15:04"))
	}
	slices.Sort(out.Times)
	out.Times = slices.Compact(out.Times)
	if out.Timezone != "" {
		if _, err := time.LoadLocation(out.Timezone); err != nil {
			p.Add("daily_report.timezone", "invalid-timezone", "%q is not an IANA time zone: use a name like Asia/Shanghai or UTC", out.Timezone)
		}
	}
	return out
}

// KeepSecrets restores every secret of ch that the client sent back masked
// from stored, the channel as it is saved. A masked secret with nothing
// stored to restore is a problem: the client never knew the value.
func KeepSecrets(ch, stored *Channel) error {
	if ch.Settings == nil {
		return nil
	}
	var old map[string]SecretField
	if stored != nil && stored.Settings != nil && stored.Kind == ch.Kind {
		old = map[string]SecretField{}
		for _, f := range stored.Settings.Secrets() {
			old[f.Name] = f
		}
	}
	var p problem.List
	for _, f := range ch.Settings.Secrets() {
		v := f.Get()
		if !isMaskedValue(v) {
			continue
		}
		o, ok := old[f.Name]
		if !ok {
			p.Add("settings."+f.Name, "masked-secret", "this is a masked value, not the secret: send the secret itself")
			continue
		}
		f.Set(o.Get())
	}
	return p.Err()
}

// CheckNoMasked reports a problem for every secret still masked: used on
// create, where there is no stored value to keep.
func CheckNoMasked(ch *Channel) error { return KeepSecrets(ch, nil) }

// isMaskedValue reports whether v is a masked secret, or a URL whose query
// value or path segment is masked (the masked form of a webhook URL: a
// DingTalk access_token, a Lark /hook/<token>).
func isMaskedValue(v string) bool {
	return secret.IsMasked(v) || strings.Contains(v, "="+secret.Mask) || strings.Contains(v, "/"+secret.Mask)
}

// ValidateSettings checks settings built in code (the send command's flags)
// as Validate checks them from JSON.
func ValidateSettings(s Settings, env Env) error {
	var p problem.List
	s.validate(&p, env)
	return p.Err()
}
