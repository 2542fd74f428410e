// Package channel defines notification objects: where Tocsin sends. A
// Channel has a kind (dingtalk_robot, …), kind-specific settings that may hold
// secrets, an optional daily report schedule and card settings. The package
// validates channels as a person types them, naming the field at fault, and
// knows which settings are secrets; it sends nothing and stores nothing.
package channel

import (
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/tocsinhq/tocsin/internal/problem"
)

// Kind is a channel's platform.
type Kind string

// Kinds of channel.
const (
	KindDingTalkRobot Kind = "dingtalk_robot" // custom group robot (webhook)
	KindDingTalkApp   Kind = "dingtalk_app"   // enterprise app robot: 1:1 and group sends
	KindLarkRobot     Kind = "lark_robot"     // Lark / Feishu custom bot
	KindWeComRobot    Kind = "wecom_robot"    // WeCom group robot
	KindWebhook       Kind = "webhook"        // generic JSON POST
)

// Kinds lists the kinds this build accepts.
var Kinds = []Kind{KindDingTalkRobot, KindDingTalkApp, KindLarkRobot, KindWeComRobot, KindWebhook}

// Channel is a notification object.
type Channel struct {
	ID          string
	Name        string
	Kind        Kind
	Description string
	Enabled     bool
	// Timezone is the IANA zone messages for this channel are rendered in;
	// empty means the server's --timezone.
	Timezone    string
	Settings    Settings
	DailyReport DailyReport
	// Card holds card content settings (field toggles, buttons) as given.
	// Rendering does not read it yet: card content is a later feature.
	Card      json.RawMessage
	CreatedAt time.Time
	UpdatedAt time.Time
}

// DailyReport is a channel's statistics report schedule.
type DailyReport struct {
	// Times are "HH:mm" in Timezone, sorted, without duplicates.
	Times []string `json:"times"`
	// Timezone is an IANA zone; empty means the channel's zone.
	Timezone string `json:"timezone"`
}

// Settings are a kind's own settings. Each kind's type lists its secrets so
// stores can seal them and the API can keep masked values on update.
type Settings interface {
	Kind() Kind
	// Secrets lists the settings that are secrets, by JSON field name.
	Secrets() []SecretField
	// validate checks the settings and normalises them in place.
	validate(p *problem.List, env Env)
}

// SecretField is one secret setting: its JSON name and access to its value.
type SecretField struct {
	Name string
	Get  func() string
	Set  func(string)
}

// Budget overrides a platform's default send budget.
type Budget struct {
	Messages int    `json:"messages"`
	Per      string `json:"per"`
}

// PerDuration returns Per parsed; validate guarantees it parses.
func (b *Budget) PerDuration() time.Duration {
	d, _ := time.ParseDuration(b.Per)
	return d
}

type channelJSON struct {
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	Kind        Kind            `json:"kind"`
	Description string          `json:"description"`
	Enabled     bool            `json:"enabled"`
	Timezone    string          `json:"timezone,omitempty"`
	Settings    Settings        `json:"settings"`
	DailyReport DailyReport     `json:"daily_report"`
	Card        json.RawMessage `json:"card"`
	CreatedAt   time.Time       `json:"created_at"`
	UpdatedAt   time.Time       `json:"updated_at"`
}

// MarshalJSON writes the API shape. Secrets in Settings print masked.
func (c Channel) MarshalJSON() ([]byte, error) {
	card := c.Card
	if len(card) == 0 {
		card = json.RawMessage("{}")
	}
	dr := c.DailyReport
	if dr.Times == nil {
		dr.Times = []string{}
	}
	return json.Marshal(channelJSON{
		ID: c.ID, Name: c.Name, Kind: c.Kind, Description: c.Description, Enabled: c.Enabled,
		Timezone: c.Timezone, Settings: c.Settings, DailyReport: dr, Card: card,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
	})
}

// Input is a channel as a client sends it, before validation. Decode fills
// it; Validate turns it into a Channel.
type Input struct {
	Name        string          `json:"name"`
	Kind        Kind            `json:"kind"`
	Description string          `json:"description"`
	Enabled     *bool           `json:"enabled"`
	Timezone    string          `json:"timezone"`
	Settings    json.RawMessage `json:"settings"`
	DailyReport *reportInput    `json:"daily_report"`
	Card        json.RawMessage `json:"card"`
	// ID, created_at and updated_at are accepted (a client may send back
	// what it got) and ignored.
	ID        string          `json:"id"`
	CreatedAt json.RawMessage `json:"created_at"`
	UpdatedAt json.RawMessage `json:"updated_at"`
}

// reportInput accepts times as a list or as one comma-separated string.
type reportInput struct {
	Times    timesInput `json:"times"`
	Timezone string     `json:"timezone"`
}

type timesInput []string

func (t *timesInput) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*t = splitList(s)
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return errors.New(`must be a list of "HH:mm" strings or one comma-separated string`)
	}
	var out []string
	for _, v := range list {
		out = append(out, splitList(v)...)
	}
	*t = out
	return nil
}

// splitList splits "a, b,c" into trimmed parts, keeping empty parts so
// validation can name them.
func splitList(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// Decode reads an Input strictly: unknown fields are refused with their name.
func Decode(data []byte) (*Input, error) {
	var in Input
	if err := problem.DecodeStrict(data, &in, ""); err != nil {
		return nil, err
	}
	return &in, nil
}
