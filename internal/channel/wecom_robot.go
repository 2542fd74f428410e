package channel

import (
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/tocsinhq/tocsin/internal/problem"
	"github.com/tocsinhq/tocsin/internal/secret"
)

// WeComRobot are the settings of a WeCom group robot. WeCom robots have no
// keywords or signing: the key in the URL is the only secret.
type WeComRobot struct {
	// WebhookURL is <base>/cgi-bin/webhook/send?key=<key>.
	WebhookURL secret.URL `json:"webhook_url"`
	// MsgType is markdown (the default), text or markdown_v2.
	MsgType string  `json:"msg_type"`
	Budget  *Budget `json:"budget,omitempty"`
}

var wecomMsgTypes = []string{"markdown", "text", "markdown_v2"}

var wecomKey = regexp.MustCompile(`^[A-Za-z0-9-]{16,}$`)

// Kind implements Settings.
func (*WeComRobot) Kind() Kind { return KindWeComRobot }

// Secrets implements Settings.
func (s *WeComRobot) Secrets() []SecretField {
	return []SecretField{
		{Name: "webhook_url", Get: s.WebhookURL.Reveal, Set: func(v string) { s.WebhookURL = secret.NewURL(v) }},
	}
}

func (s *WeComRobot) validate(p *problem.List, env Env) {
	const field = "settings.webhook_url"
	raw := strings.TrimSpace(s.WebhookURL.Reveal())
	switch {
	case raw == "":
		p.Add(field, "required", "the robot's webhook URL is required: copy it from the robot's details in the group (https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…)")
	case isMaskedValue(raw):
	case wecomKey.MatchString(raw) && env.WeComBase != nil:
		u := env.WeComBase.JoinPath("cgi-bin", "webhook", "send")
		u.RawQuery = url.Values{"key": {raw}}.Encode()
		s.WebhookURL = secret.NewURL(u.String())
	default:
		u, err := url.Parse(raw)
		if err != nil {
			p.Add(field, "invalid-url", "not a URL: paste the webhook URL from the robot's details, or just its key")
			break
		}
		r := env.rule(KindWeComRobot)
		if msg := checkURL(u, r, env.Allow); msg != "" {
			p.Add(field, "url-not-allowed", "%s", msg)
			break
		}
		if base := r.platformHost(u); base != nil {
			if want := "/" + strings.TrimPrefix(base.JoinPath("cgi-bin", "webhook", "send").Path, "/"); strings.TrimSuffix(u.Path, "/") != want {
				p.Add(field, "invalid-path", "a WeCom robot webhook has the path %s, got %q", want, u.Path)
				break
			}
		}
		key := u.Query().Get("key")
		if key == "" {
			p.Add(field, "missing-key", "the URL has no key parameter: copy the whole webhook URL from the robot's details")
			break
		}
		u.RawQuery, u.Fragment = url.Values{"key": {key}}.Encode(), ""
		s.WebhookURL = secret.NewURL(u.String())
	}
	if s.MsgType == "" {
		s.MsgType = "markdown"
	}
	if !slices.Contains(wecomMsgTypes, s.MsgType) {
		p.Add("settings.msg_type", "invalid-msg-type", "msg_type must be one of %s, got %q", strings.Join(wecomMsgTypes, ", "), s.MsgType)
	}
	validateBudget(p, s.Budget, KindWeComRobot, env.OnPlatform(KindWeComRobot, s.WebhookURL.Reveal()))
}
