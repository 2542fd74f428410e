// Package dingtalkapp sends Tocsin's messages through a DingTalk enterprise
// internal app's robot, over the OpenAPI at api.dingtalk.com: 1:1 messages
// to people by their DingTalk user ID (batchSend, at most 20 people a
// call) and messages to groups the robot is in (groupMessages/send).
//
// Unlike the custom group robot of package dingtalk, whose webhook carries
// its own credential, the app robot needs an access token obtained from the
// app's Client ID and Client Secret. Tokens live two hours and DingTalk
// rate-limits fetching them, so a Client caches one per app, refreshes it
// before it expires, lets only one request fetch it however many sends
// wait, and fetches again once when DingTalk no longer accepts it.
//
// A notify.Message becomes one message with one of DingTalk's message
// templates (msgKey) and its parameters (msgParam, a JSON text inside the
// JSON request): markdown when it has no buttons, an action card with one
// to five buttons otherwise. Package dingtalk's rendering is not reused: it
// shapes webhook payloads (msgtype, at, keywords, parts), a different
// format with other limits.
//
// DingTalk answers the app API with HTTP 2xx on success and a non-2xx
// status with {code, message, requestid} on refusal; every refusal becomes
// a classified *notify.Error (see codes.go). The package keeps no state but
// the token cache: rate budgets and retries belong to the outbox in
// internal/notify.
package dingtalkapp

import (
	"errors"
	"log/slog"
	"net/url"
	"strings"

	"github.com/tocsinhq/tocsin/internal/secret"
)

// DefaultBaseURL is where DingTalk serves the app API.
const DefaultBaseURL = "https://api.dingtalk.com"

// The API's paths (chat-apis §2.1–§2.3).
const (
	tokenPath     = "/v1.0/oauth2/accessToken"
	batchSendPath = "/v1.0/robot/oToMessages/batchSend"
	groupSendPath = "/v1.0/robot/groupMessages/send"
	// tokenHeader carries the access token on every call but the one
	// that fetches it.
	tokenHeader = "x-acs-dingtalk-access-token"
)

// App is one DingTalk enterprise internal app and its robot, as a channel
// configures them.
type App struct {
	// BaseURL is the API's address; empty means DefaultBaseURL. Tests and
	// "tocsin fake" point it at a fake.
	BaseURL string
	// ClientID is the app's Client ID (formerly AppKey), "ding…".
	ClientID string
	// ClientSecret is the app's Client Secret (formerly AppSecret). It
	// only ever goes to the token endpoint.
	ClientSecret secret.String
	// RobotCode identifies the app's robot; empty means ClientID, which
	// is what DingTalk assigns to an internal app's robot.
	RobotCode string
}

// LogValue keeps the client secret out of logs while still showing which
// app a line is about.
func (a App) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("base_url", secret.MaskURL(a.baseURL())),
		slog.String("client_id", a.ClientID),
		slog.String("client_secret", a.ClientSecret.String()),
		slog.String("robot_code", a.robotCode()),
	)
}

func (a App) baseURL() string {
	if a.BaseURL == "" {
		return DefaultBaseURL
	}
	return strings.TrimSuffix(a.BaseURL, "/")
}

func (a App) robotCode() string {
	if a.RobotCode == "" {
		return a.ClientID
	}
	return a.RobotCode
}

// check refuses settings no request could succeed with, before any is
// made. The error names the setting, never its value.
func (a App) check() error {
	u, err := url.Parse(a.baseURL())
	switch {
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		return invalidApp.With(0, "", errors.New("the base URL must be an http or https URL with a host"))
	case strings.TrimSpace(a.ClientID) == "":
		return invalidApp.With(0, "", errors.New("the client ID is empty"))
	case a.ClientSecret.IsZero():
		return invalidApp.With(0, "", errors.New("the client secret is empty"))
	}
	return nil
}
