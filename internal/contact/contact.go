// Package contact defines the people Tocsin notifies and the groups that
// address them together. A Contact is a person with the identities each
// platform knows them by (mobile, DingTalk user ID, Lark open ID, WeCom user
// ID, email); a Group holds contacts and channels, so a policy, rule or
// escalation can target them as one. The package validates both as a person
// types them, naming the field at fault; it stores nothing and sends nothing.
package contact

import (
	"encoding/json"
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tocsinhq/tocsin/internal/notify"
	"github.com/tocsinhq/tocsin/internal/problem"
)

// MaxNameLen bounds a contact's or a group's name, in characters.
const MaxNameLen = 100

// Contact is a person to notify. An empty identity is one the person does
// not have on that platform; Validate makes sure at least one is set.
type Contact struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Mobile is "13800138000" (mainland China) or "+852-12345678" (any
	// other country), the forms DingTalk and WeCom match mentions against.
	Mobile         string    `json:"mobile"`
	DingTalkUserID string    `json:"dingtalk_user_id"`
	LarkOpenID     string    `json:"lark_open_id"` // "ou_…"
	WeComUserID    string    `json:"wecom_user_id"`
	Email          string    `json:"email"` // the bare address
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// Person returns c as the notifiers know people, for mentions.
func (c *Contact) Person() notify.Person {
	return notify.Person{
		Name:           c.Name,
		Mobile:         c.Mobile,
		DingTalkUserID: c.DingTalkUserID,
		LarkOpenID:     c.LarkOpenID,
		WeComUserID:    c.WeComUserID,
		Email:          c.Email,
	}
}

// Input is a contact as a client sends it, before validation. Decode fills
// it; Validate turns it into a Contact.
type Input struct {
	Name           string `json:"name"`
	Mobile         string `json:"mobile"`
	DingTalkUserID string `json:"dingtalk_user_id"`
	LarkOpenID     string `json:"lark_open_id"`
	WeComUserID    string `json:"wecom_user_id"`
	Email          string `json:"email"`
	// ID, created_at and updated_at are accepted (a client may send back
	// what it got) and ignored.
	ID        string          `json:"id"`
	CreatedAt json.RawMessage `json:"created_at"`
	UpdatedAt json.RawMessage `json:"updated_at"`
}

// Decode reads an Input strictly: unknown fields are refused with their name.
func Decode(data []byte) (*Input, error) {
	var in Input
	if err := problem.DecodeStrict(data, &in, ""); err != nil {
		return nil, err
	}
	return &in, nil
}

// Validate checks in and returns the contact it describes, normalised
// (trimmed, mobile numbers in their canonical form). Every problem is
// reported at once, as *problem.List. Whether the name is free is the
// store's to say (ErrConflict).
func Validate(in *Input) (*Contact, error) {
	var p problem.List
	c := &Contact{
		Name:           strings.TrimSpace(in.Name),
		DingTalkUserID: strings.TrimSpace(in.DingTalkUserID),
		LarkOpenID:     strings.TrimSpace(in.LarkOpenID),
		WeComUserID:    strings.TrimSpace(in.WeComUserID),
	}
	validateName(&p, c.Name, `a contact needs a name, like "Zhang San"`)
	if m := strings.TrimSpace(in.Mobile); m != "" {
		if norm, ok := ParseMobile(m); ok {
			c.Mobile = norm
		} else {
			p.Add("mobile", "invalid-mobile", "%q is not a mobile number: use 11 digits for mainland China, like 13800138000, or +<country code>-<number> for other countries, like +852-12345678", m)
		}
	}
	if id := c.DingTalkUserID; id != "" && !dingTalkUserID(id) {
		p.Add("dingtalk_user_id", "invalid-user-id", "%q is not a DingTalk user ID: use the userId from the DingTalk admin console (at most 64 characters, no spaces, @ or commas)", id)
	}
	if id := c.LarkOpenID; id != "" && !larkOpenID.MatchString(id) {
		p.Add("lark_open_id", "invalid-open-id", "%q is not a Lark open ID: an open ID starts with ou_ followed by letters and digits, like ou_7d8a6e6df7621556ce0d21922b676706 (a user_id, union_id, email or mobile will not do)", id)
	}
	if id := c.WeComUserID; id != "" && !weComUserID.MatchString(id) {
		p.Add("wecom_user_id", "invalid-user-id", "%q is not a WeCom user ID: use the account (帐号) from the WeCom admin console: 1 to 64 letters, digits, _ - @ or ., starting with a letter or digit", id)
	}
	if e := strings.TrimSpace(in.Email); e != "" {
		if addr, ok := parseEmail(e); ok {
			c.Email = addr
		} else {
			p.Add("email", "invalid-email", "%q is not an email address: give the address alone, like zhang.san@example.com", e)
		}
	}
	if !p.Has("mobile") && !p.Has("dingtalk_user_id") && !p.Has("lark_open_id") && !p.Has("wecom_user_id") && !p.Has("email") &&
		c.Mobile == "" && c.DingTalkUserID == "" && c.LarkOpenID == "" && c.WeComUserID == "" && c.Email == "" {
		p.Add("", "unreachable", "a contact needs at least one way to reach them: a mobile, a DingTalk user ID, a Lark open ID, a WeCom user ID or an email")
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

// validateName checks a contact's or a group's trimmed name.
func validateName(p *problem.List, name, required string) {
	switch n := utf8.RuneCountInString(name); {
	case n == 0:
		p.Add("name", "required", "%s", required)
	case n > MaxNameLen:
		p.Add("name", "too-long", "a name must be at most %d characters, got %d", MaxNameLen, n)
	case strings.ContainsFunc(name, unicode.IsControl):
		p.Add("name", "invalid-name", "a name must not contain tabs, line breaks or other control characters")
	}
}

var (
	// Mainland mobile numbers: 11 digits, 13x to 19x.
	mainlandMobile = regexp.MustCompile(`^1[3-9][0-9]{9}$`)
	// "+852-12345678": an E.164 country code, a dash, the national number.
	internationalMobile = regexp.MustCompile(`^\+([1-9][0-9]{0,2})-([0-9]{4,14})$`)
	// Lark open IDs are "ou_" and 32 hex digits today; accept any letters
	// and digits so a longer or other-cased form still passes.
	larkOpenID = regexp.MustCompile(`^ou_[A-Za-z0-9]{1,125}$`)
	// WeCom's rule for a member's UserID: 1 to 64 bytes of letters, digits
	// and _-@., the first a letter or digit.
	weComUserID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_@.-]{0,63}$`)
)

// ParseMobile returns s in the form DingTalk and WeCom match mentions
// against, and whether s is a mobile number at all. A mainland number is
// 11 digits; spaces and dashes inside it are dropped ("138 0013 8000",
// "138-0013-8000"), and so is a +86- in front, since the platforms know
// mainland numbers without it. Any other number is +<country code>-<number>
// ("+852-12345678"), at most 15 digits in all, as E.164 allows.
func ParseMobile(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if m := internationalMobile.FindStringSubmatch(s); m != nil && m[1] != "86" {
		return s, len(m[1])+len(m[2]) <= 15
	}
	s = strings.TrimPrefix(s, "+86-")
	// Separators only inside the number: "-13800138000" is a typo, not a
	// format.
	if s == "" || !isDigit(s[0]) || !isDigit(s[len(s)-1]) {
		return "", false
	}
	m := stripSeparators(s)
	return m, mainlandMobile.MatchString(m)
}

func stripSeparators(s string) string {
	return strings.NewReplacer(" ", "", "-", "").Replace(s)
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

// dingTalkUserID reports whether id can be a DingTalk userId. DingTalk
// lets an organisation choose its user IDs (staff numbers, names), so only
// what would break a mention is refused: an @ (the mention is written as
// @userId in the text), whitespace and commas (lists of IDs are
// comma-separated in some calls).
func dingTalkUserID(id string) bool {
	return utf8.RuneCountInString(id) <= 64 &&
		!strings.ContainsFunc(id, func(r rune) bool {
			return r == '@' || r == ',' || unicode.IsSpace(r) || unicode.IsControl(r)
		})
}

// parseEmail returns the address of s when s is a bare address: a display
// name ("Zhang San <z@example.com>") is refused, since the contact's name
// is its own field.
func parseEmail(s string) (string, bool) {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", false
	}
	return a.Address, true
}
