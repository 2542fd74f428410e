package channel

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/tocsinhq/tocsin/internal/problem"
	"github.com/tocsinhq/tocsin/internal/secret"
)

// DingTalkApp are the settings of a DingTalk enterprise app robot: it
// sends 1:1 to members (UserIDs) and to groups by open conversation ID.
type DingTalkApp struct {
	ClientID     string        `json:"client_id"`
	ClientSecret secret.String `json:"client_secret"`
	// RobotCode is the app's robot; usually the client ID, its default.
	RobotCode           string   `json:"robot_code"`
	UserIDs             []string `json:"user_ids"`
	OpenConversationIDs []string `json:"open_conversation_ids"`
	// APIBaseURL is DingTalk's OpenAPI; empty means the server's setting.
	APIBaseURL string  `json:"api_base_url"`
	Budget     *Budget `json:"budget,omitempty"`
}

var (
	appID     = regexp.MustCompile(`^[A-Za-z0-9_-]{4,128}$`)
	openConvo = regexp.MustCompile(`^[A-Za-z0-9+/=_-]{8,}$`)
)

// Kind implements Settings.
func (*DingTalkApp) Kind() Kind { return KindDingTalkApp }

// Secrets implements Settings.
func (s *DingTalkApp) Secrets() []SecretField {
	return []SecretField{
		{Name: "client_secret", Get: s.ClientSecret.Reveal, Set: func(v string) { s.ClientSecret = secret.New(v) }},
	}
}

func (s *DingTalkApp) validate(p *problem.List, env Env) {
	s.ClientID = strings.TrimSpace(s.ClientID)
	if !appID.MatchString(s.ClientID) {
		p.Add("settings.client_id", "invalid-client-id", "the app's Client ID (AppKey) is required: copy it from the app's credentials page in the DingTalk developer console")
	}
	if v := strings.TrimSpace(s.ClientSecret.Reveal()); v == "" {
		p.Add("settings.client_secret", "required", "the app's Client Secret (AppSecret) is required")
	} else if !isMaskedValue(v) {
		s.ClientSecret = secret.New(v)
	}
	if s.RobotCode = strings.TrimSpace(s.RobotCode); s.RobotCode == "" {
		s.RobotCode = s.ClientID
	} else if !appID.MatchString(s.RobotCode) {
		p.Add("settings.robot_code", "invalid-robot-code", "the robot code is letters, digits, - and _: copy it from the app's robot page")
	}
	s.UserIDs = cleanIDs(p, "settings.user_ids", s.UserIDs, appID, "a DingTalk user ID (userId from the admin console)")
	s.OpenConversationIDs = cleanIDs(p, "settings.open_conversation_ids", s.OpenConversationIDs, openConvo, "an open conversation ID (cid…)")
	if len(s.UserIDs) == 0 && len(s.OpenConversationIDs) == 0 {
		p.Add("settings", "no-recipients", "give user_ids (members to message 1:1) or open_conversation_ids (groups the robot is in), or both")
	}
	base := env.DingTalkAppBase
	if raw := strings.TrimSpace(s.APIBaseURL); raw != "" {
		u, err := url.Parse(raw)
		if err != nil {
			p.Add("settings.api_base_url", "invalid-url", "not a URL: leave it empty for https://api.dingtalk.com")
			return
		}
		if msg := checkURL(u, env.rule(KindDingTalkApp), env.Allow); msg != "" {
			p.Add("settings.api_base_url", "url-not-allowed", "%s", msg)
			return
		}
		base = u
	}
	if base != nil {
		s.APIBaseURL = strings.TrimSuffix(base.String(), "/")
	}
	validateBudget(p, s.Budget, KindDingTalkApp, env.OnPlatform(KindDingTalkApp, s.APIBaseURL))
}

// cleanIDs trims and dedupes ids, reporting those that do not match re.
func cleanIDs(p *problem.List, field string, ids []string, re *regexp.Regexp, what string) []string {
	out := []string{}
	for i, id := range ids {
		id = strings.TrimSpace(id)
		if !re.MatchString(id) {
			p.Add(fmt.Sprintf("%s[%d]", field, i), "invalid-id", "%q is not %s", id, what)
			continue
		}
		out = append(out, id)
	}
	return dedupe(out)
}
