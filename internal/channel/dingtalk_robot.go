package channel

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tocsinhq/tocsin/internal/problem"
	"github.com/tocsinhq/tocsin/internal/secret"
)

// DingTalkRobot are the settings of a DingTalk custom group robot.
type DingTalkRobot struct {
	// WebhookURL is <base>/robot/send?access_token=<token>; the token makes
	// it a secret.
	WebhookURL secret.URL `json:"webhook_url"`
	// Secret is the signing secret ("SEC…"); empty when the robot does not
	// use signing.
	Secret    secret.String `json:"secret"`
	Keywords  []string      `json:"keywords"`
	AtMobiles []string      `json:"at_mobiles"`
	AtUserIDs []string      `json:"at_user_ids"`
	AtAll     bool          `json:"at_all"`
	// MsgType is the message style: markdown (default), actionCard or text.
	MsgType string  `json:"msg_type"`
	Budget  *Budget `json:"budget,omitempty"`
}

// DingTalk robot message styles a channel may choose.
var dingTalkMsgTypes = []string{"markdown", "actionCard", "text"}

// Kind implements Settings.
func (*DingTalkRobot) Kind() Kind { return KindDingTalkRobot }

// Secrets implements Settings.
func (s *DingTalkRobot) Secrets() []SecretField {
	return []SecretField{
		{Name: "webhook_url", Get: s.WebhookURL.Reveal, Set: func(v string) { s.WebhookURL = secret.NewURL(v) }},
		{Name: "secret", Get: s.Secret.Reveal, Set: func(v string) { s.Secret = secret.New(v) }},
	}
}

var (
	// DingTalk access tokens are 64 hex digits today; accept any run of
	// token characters so older or future formats still pass.
	bareToken = regexp.MustCompile(`^[A-Za-z0-9_-]{16,}$`)
	// "13800000000", or international "+852-12345678" as DingTalk wants it.
	mobileRE = regexp.MustCompile(`^(\+[0-9]{1,4}-)?[0-9]{5,15}$`)
	// Signing secrets as DingTalk shows them: "SEC" and more token characters.
	secretRE = regexp.MustCompile(`^SEC[A-Za-z0-9]{8,}$`)
)

// MaxKeywords is DingTalk's and Lark's limit on a robot's keywords.
const MaxKeywords = 10

// validateKeywords checks a robot's security keywords and returns them
// trimmed and without duplicates.
func validateKeywords(p *problem.List, keywords []string) []string {
	if len(keywords) > MaxKeywords {
		p.Add("settings.keywords", "too-many", "robots have at most %d keywords; %d given", MaxKeywords, len(keywords))
	}
	seen := map[string]bool{}
	out := []string{}
	for i, k := range keywords {
		k = strings.TrimSpace(k)
		switch {
		case k == "":
			p.Add(fmt.Sprintf("settings.keywords[%d]", i), "empty", "a keyword must not be empty: remove it, or type the keyword set on the robot")
		case utf8.RuneCountInString(k) > 64:
			p.Add(fmt.Sprintf("settings.keywords[%d]", i), "too-long", "a keyword must be at most 64 characters")
		case !seen[k]:
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

func (s *DingTalkRobot) validate(p *problem.List, env Env) {
	s.validateWebhook(p, env)
	if v := s.Secret.Reveal(); v != "" && !secret.IsMasked(v) {
		v = strings.TrimSpace(v)
		s.Secret = secret.New(v)
		if !secretRE.MatchString(v) {
			p.Add("settings.secret", "invalid-secret", "a DingTalk signing secret starts with SEC followed by letters and digits: copy it from the robot's security settings (加签), or leave it empty if the robot does not sign")
		}
	}
	s.Keywords = validateKeywords(p, s.Keywords)
	for i, m := range s.AtMobiles {
		m = strings.TrimSpace(m)
		s.AtMobiles[i] = m
		if !mobileRE.MatchString(m) {
			p.Add(fmt.Sprintf("settings.at_mobiles[%d]", i), "invalid-mobile", "%q is not a mobile number: use digits like 13800000000, or +852-12345678 for other countries", m)
		}
	}
	for i, u := range s.AtUserIDs {
		u = strings.TrimSpace(u)
		s.AtUserIDs[i] = u
		if u == "" || strings.ContainsAny(u, " \t\r\n@,") {
			p.Add(fmt.Sprintf("settings.at_user_ids[%d]", i), "invalid-user-id", "%q is not a DingTalk user ID: use the userId from the admin console, without @ or spaces", u)
		}
	}
	s.AtMobiles = dedupe(s.AtMobiles)
	s.AtUserIDs = dedupe(s.AtUserIDs)
	// Lists answer [] rather than null, so clients need no special case.
	for _, l := range []*[]string{&s.AtMobiles, &s.AtUserIDs} {
		if *l == nil {
			*l = []string{}
		}
	}
	if s.MsgType == "" {
		s.MsgType = "markdown"
	}
	if !slices.Contains(dingTalkMsgTypes, s.MsgType) {
		p.Add("settings.msg_type", "invalid-msg-type", "msg_type must be one of %s, got %q", strings.Join(dingTalkMsgTypes, ", "), s.MsgType)
	}
	validateBudget(p, s.Budget, KindDingTalkRobot, env.OnPlatform(KindDingTalkRobot, s.WebhookURL.Reveal()))
}

// validateWebhook accepts a full webhook URL (extra parameters, such as a
// stale timestamp and sign copied from a signed request, are dropped) or a
// bare access token, and normalises both to <base>/robot/send?access_token=…
func (s *DingTalkRobot) validateWebhook(p *problem.List, env Env) {
	const field = "settings.webhook_url"
	raw := strings.TrimSpace(s.WebhookURL.Reveal())
	switch {
	case raw == "":
		p.Add(field, "required", "the robot's webhook URL is required: copy it from the robot's settings in the DingTalk group (https://oapi.dingtalk.com/robot/send?access_token=…)")
		return
	case isMaskedValue(raw):
		// Sent back as the API showed it: KeepSecrets restores the stored URL.
		return
	case bareToken.MatchString(raw) && !secret.IsMasked(raw):
		if env.DingTalkRobotBase == nil {
			p.Add(field, "invalid-url", "a bare access token needs the DingTalk base URL setting")
			return
		}
		u := env.DingTalkRobotBase.JoinPath("robot", "send")
		u.RawQuery = url.Values{"access_token": {raw}}.Encode()
		s.WebhookURL = secret.NewURL(u.String())
		return
	}
	u, err := url.Parse(raw)
	if err != nil {
		p.Add(field, "invalid-url", "not a URL (%s): paste the webhook URL from the robot's settings, or just its access_token", secret.Redact(err.Error(), raw))
		return
	}
	if msg := checkURL(u, env.rule(KindDingTalkRobot), env.Allow); msg != "" {
		p.Add(field, "url-not-allowed", "%s", msg)
		return
	}
	if base := env.DingTalkRobotBase; base != nil && sameHost(u, base) {
		if want := "/" + strings.TrimPrefix(base.JoinPath("robot", "send").Path, "/"); strings.TrimSuffix(u.Path, "/") != want {
			p.Add(field, "invalid-path", "a DingTalk robot webhook has the path %s, got %q", want, u.Path)
			return
		}
	}
	token := u.Query().Get("access_token")
	if token == "" {
		p.Add(field, "missing-access-token", "the URL has no access_token parameter: copy the whole webhook URL from the robot's settings")
		return
	}
	u.RawQuery = url.Values{"access_token": {token}}.Encode()
	u.Fragment = ""
	s.WebhookURL = secret.NewURL(u.String())
}

// DefaultBudget is how many messages a kind's platform takes per minute
// before it throttles: what the outbox enforces unless a channel sets a
// slower budget. Zero Messages means no platform limit (the generic
// webhook).
func DefaultBudget(k Kind) Budget {
	switch k {
	case KindDingTalkRobot, KindWeComRobot:
		return Budget{Messages: 20, Per: "1m"}
	case KindLarkRobot:
		return Budget{Messages: 100, Per: "1m"} // and 5 per second
	case KindDingTalkApp:
		return Budget{Messages: 20, Per: "1s"} // the OpenAPI's per-app QPS
	}
	return Budget{}
}

// validateBudget checks a budget override. On the platform's own host it
// may only be slower than the platform's limit; a channel pointed at
// another host (a proxy or a local fake, allowed by --allow-hosts) may set
// any budget, since what limits it there is not the platform.
func validateBudget(p *problem.List, b *Budget, k Kind, onPlatform bool) {
	if b == nil {
		return
	}
	if b.Messages < 1 {
		p.Add("settings.budget.messages", "invalid-budget", "messages must be at least 1")
	}
	d, err := time.ParseDuration(b.Per)
	if err != nil || d < time.Second {
		p.Add("settings.budget.per", "invalid-budget", "per must be a duration of at least 1s, like \"1m\", got %q", b.Per)
		return
	}
	max := DefaultBudget(k)
	if max.Messages == 0 || b.Messages < 1 || !onPlatform {
		return
	}
	if float64(b.Messages)/d.Seconds() > float64(max.Messages)/max.PerDuration().Seconds() {
		p.Add("settings.budget", "budget-over-platform-limit", "%d messages per %s is faster than the platform allows (%d per %s): the platform would throttle or ban it", b.Messages, b.Per, max.Messages, max.Per)
	}
}

func dedupe(list []string) []string {
	seen := map[string]bool{}
	out := list[:0]
	for _, v := range list {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
