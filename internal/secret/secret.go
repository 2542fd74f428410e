// Package secret holds values that must never be shown or logged in full:
// robot access tokens, signing secrets, URLs that embed a token. Their String,
// MarshalJSON and LogValue methods print a mask; only Reveal gives the value,
// and only code that sends to a platform or seals for storage calls it.
package secret

import (
	"encoding/json"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Mask is what a masked secret starts with. A client that sends a value
// starting with Mask back (for example in a PUT) means "keep the stored one".
const Mask = "********"

// IsMasked reports whether s is a masked rendering rather than a real value.
func IsMasked(s string) bool { return strings.HasPrefix(s, Mask) }

// String is a secret string. The zero value is the empty secret.
type String struct{ v string }

// New wraps s as a secret.
func New(s string) String { return String{v: s} }

// Reveal returns the secret in clear. Call it only to use the secret.
func (s String) Reveal() string { return s.v }

// IsZero reports whether the secret is empty.
func (s String) IsZero() bool { return s.v == "" }

// String returns the masked form: Mask followed by the last four characters
// for long values (enough to tell two secrets apart, too few to guess them),
// Mask alone for short ones, and "" for the empty secret.
func (s String) String() string { return maskValue(s.v) }

// GoString masks the secret in %#v output.
func (s String) GoString() string { return "secret.String(" + strconv.Quote(s.String()) + ")" }

// LogValue masks the secret in slog output.
func (s String) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON writes the masked form.
func (s String) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// UnmarshalJSON reads a value in clear (as a client sends it). A masked value
// is kept as is; callers use IsMasked to substitute the stored secret.
func (s *String) UnmarshalJSON(b []byte) error {
	var v string
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	s.v = v
	return nil
}

func maskValue(v string) string {
	switch {
	case v == "":
		return ""
	case IsMasked(v):
		return v
	case len(v) >= 20:
		return Mask + v[len(v)-4:]
	default:
		return Mask
	}
}

// URL is a URL whose query values are secrets (DingTalk's access_token,
// WeCom's key). Its masked form keeps scheme, host and path so a person can
// tell where it points, and masks every query value.
type URL struct{ v string }

// NewURL wraps raw as a secret URL.
func NewURL(raw string) URL { return URL{v: raw} }

// Reveal returns the URL in clear.
func (u URL) Reveal() string { return u.v }

// IsZero reports whether the URL is empty.
func (u URL) IsZero() bool { return u.v == "" }

// String returns the URL with every query value masked.
func (u URL) String() string { return MaskURL(u.v) }

// GoString masks the URL in %#v output.
func (u URL) GoString() string { return "secret.URL(" + strconv.Quote(u.String()) + ")" }

// LogValue masks the URL in slog output.
func (u URL) LogValue() slog.Value { return slog.StringValue(u.String()) }

// MarshalJSON writes the masked form.
func (u URL) MarshalJSON() ([]byte, error) { return json.Marshal(u.String()) }

// UnmarshalJSON reads a URL in clear.
func (u *URL) UnmarshalJSON(b []byte) error {
	var v string
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	u.v = v
	return nil
}

// MaskURL masks every query value of raw, and every path segment that looks
// like a token (Lark's /hook/<token>, Slack-style /services/T…/B…/…): 16 or
// more letters, digits, '-' or '_', at least one of them a digit. A raw
// string that does not parse as a URL is masked whole, since it may be a
// bare token.
func MaskURL(raw string) string {
	if raw == "" {
		return ""
	}
	p, err := url.Parse(raw)
	if err != nil || p.Host == "" {
		return maskValue(raw)
	}
	p.User = nil
	if segs := strings.Split(p.Path, "/"); slices.ContainsFunc(segs, looksLikeToken) {
		for i, seg := range segs {
			if looksLikeToken(seg) {
				segs[i] = maskValue(seg)
			}
		}
		// RawPath keeps the mask's asterisks unescaped in String().
		p.Path = strings.Join(segs, "/")
		p.RawPath = p.Path
	}
	if p.RawQuery != "" {
		q := p.Query()
		parts := make([]string, 0, len(q))
		for k, vs := range q {
			for _, v := range vs {
				parts = append(parts, url.QueryEscape(k)+"="+maskValue(v))
			}
		}
		slices.Sort(parts)
		p.RawQuery = strings.Join(parts, "&")
	}
	return p.String()
}

func looksLikeToken(seg string) bool {
	if len(seg) < 16 {
		return false
	}
	digit := false
	for _, r := range seg {
		switch {
		case r >= '0' && r <= '9':
			digit = true
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r == '-', r == '_':
		default:
			return false
		}
	}
	return digit
}

// Redact replaces every occurrence of each secret value in s with its mask.
// Platform clients run error texts through it, because transport errors
// (*url.Error) quote the full request URL.
func Redact(s string, secrets ...string) string {
	for _, v := range secrets {
		if len(v) >= 4 {
			s = strings.ReplaceAll(s, v, maskValue(v))
		}
	}
	return s
}
