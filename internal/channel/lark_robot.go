package channel

import (
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/tocsinhq/tocsin/internal/problem"
	"github.com/tocsinhq/tocsin/internal/secret"
)

// LarkRobot are the settings of a Lark / Feishu custom bot.
type LarkRobot struct {
	// WebhookURL is <base>/open-apis/bot/v2/hook/<token>.
	WebhookURL secret.URL `json:"webhook_url"`
	// Secret is the signing secret; empty when the bot does not sign.
	Secret   secret.String `json:"secret"`
	Keywords []string      `json:"keywords"`
	// MsgType is interactive (a card, the default), post or text.
	MsgType string  `json:"msg_type"`
	Budget  *Budget `json:"budget,omitempty"`
}

var larkMsgTypes = []string{"interactive", "post", "text"}

// larkToken is the last path element of a bot webhook (a UUID today).
var larkToken = regexp.MustCompile(`^[A-Za-z0-9-]{16,}$`)

// Kind implements Settings.
func (*LarkRobot) Kind() Kind { return KindLarkRobot }

// Secrets implements Settings.
func (s *LarkRobot) Secrets() []SecretField {
	return []SecretField{
		{Name: "webhook_url", Get: s.WebhookURL.Reveal, Set: func(v string) { s.WebhookURL = secret.NewURL(v) }},
		{Name: "secret", Get: s.Secret.Reveal, Set: func(v string) { s.Secret = secret.New(v) }},
	}
}

func (s *LarkRobot) validate(p *problem.List, env Env) {
	const field = "settings.webhook_url"
	raw := strings.TrimSpace(s.WebhookURL.Reveal())
	switch {
	case raw == "":
		p.Add(field, "required", "the bot's webhook URL is required: copy it from the bot's settings in the group (https://open.feishu.cn/open-apis/bot/v2/hook/…)")
	case isMaskedValue(raw):
		// Sent back as shown: KeepSecrets restores the stored URL.
	case larkToken.MatchString(raw) && env.LarkBase != nil:
		s.WebhookURL = secret.NewURL(env.LarkBase.JoinPath("open-apis", "bot", "v2", "hook", raw).String())
	default:
		u, err := url.Parse(raw)
		if err != nil {
			p.Add(field, "invalid-url", "not a URL: paste the webhook URL from the bot's settings, or just its token")
			break
		}
		r := env.rule(KindLarkRobot)
		if msg := checkURL(u, r, env.Allow); msg != "" {
			p.Add(field, "url-not-allowed", "%s", msg)
			break
		}
		dir, token := pathTail(u.Path)
		if base := r.platformHost(u); base != nil && dir != "/"+strings.TrimPrefix(base.JoinPath("open-apis", "bot", "v2", "hook").Path, "/") {
			p.Add(field, "invalid-path", "a Lark bot webhook has the path /open-apis/bot/v2/hook/<token>, got %q", u.Path)
			break
		}
		if token == "" {
			p.Add(field, "missing-token", "the URL ends without the bot's token: copy the whole webhook URL")
			break
		}
		u.RawQuery, u.Fragment = "", ""
		s.WebhookURL = secret.NewURL(u.String())
	}
	if v := strings.TrimSpace(s.Secret.Reveal()); v != "" && !isMaskedValue(v) {
		s.Secret = secret.New(v)
		if len(v) < 8 || strings.ContainsAny(v, " \t\r\n") {
			p.Add("settings.secret", "invalid-secret", "a Lark signing secret is a string of at least 8 characters without spaces: copy it from the bot's security settings (签名校验), or leave it empty")
		}
	}
	s.Keywords = validateKeywords(p, s.Keywords)
	if s.MsgType == "" {
		s.MsgType = "interactive"
	}
	if !slices.Contains(larkMsgTypes, s.MsgType) {
		p.Add("settings.msg_type", "invalid-msg-type", "msg_type must be one of %s, got %q", strings.Join(larkMsgTypes, ", "), s.MsgType)
	}
	validateBudget(p, s.Budget, KindLarkRobot, env.OnPlatform(KindLarkRobot, s.WebhookURL.Reveal()))
}

// pathTail splits "/a/b/c" into "/a/b" and "c".
func pathTail(path string) (dir, last string) {
	path = strings.TrimSuffix(path, "/")
	i := strings.LastIndexByte(path, '/')
	if i < 0 {
		return "", path
	}
	return path[:i], path[i+1:]
}
