package outbox

import (
	"strconv"
	"time"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/channel"
	"github.com/tocsinhq/tocsin/internal/notify"
	"github.com/tocsinhq/tocsin/internal/notify/dingtalk"
	"github.com/tocsinhq/tocsin/internal/notify/fit"
	"github.com/tocsinhq/tocsin/internal/notify/lark"
	"github.com/tocsinhq/tocsin/internal/store"
	"github.com/tocsinhq/tocsin/internal/template"
)

// Renderer turns a delivery into the messages to send.
type Renderer interface {
	Render(ch *channel.Channel, d *store.Delivery, c *Content, loc *time.Location, publicURL string) []notify.Message
}

// DefaultRenderer renders with Tocsin's default templates.
type DefaultRenderer struct{}

// digestLimits is how much text a digest message may hold on a platform:
// under its limit, as the platform counts it, with room for the title,
// keyword and mentions the platform client adds, so each digest message
// goes out as one platform message.
func digestLimits(k channel.Kind, messages int) template.DigestLimits {
	l := template.DigestLimits{MaxMessages: messages}
	switch k {
	case channel.KindDingTalkRobot:
		l.MaxBytes, l.Size = dingtalk.MaxBodyBytes-300, fit.JSONLen
	case channel.KindLarkRobot:
		l.MaxBytes, l.Size = lark.MaxBodyBytes-2000, fit.JSONLen
	case channel.KindWeComRobot:
		l.MaxBytes = 3500
	case channel.KindDingTalkApp:
		l.MaxBytes, l.Size = 4500, fit.JSONLen
	default:
		l.MaxBytes = 60000
	}
	return l
}

// Render implements Renderer. Every message's ID derives from the
// delivery's, so a retry carries the same idempotency keys.
func (DefaultRenderer) Render(ch *channel.Channel, d *store.Delivery, c *Content, loc *time.Location, publicURL string) []notify.Message {
	o := template.Options{Location: loc, PublicURL: publicURL, Now: d.CreatedAt}
	var msgs []notify.Message
	if c.Digest {
		items := make([]template.DigestItem, 0, len(c.Firing)+len(c.Resolved))
		for _, a := range c.Firing {
			items = append(items, template.DigestItem{Alert: a, Status: alert.Firing})
		}
		for _, a := range c.Resolved {
			items = append(items, template.DigestItem{Alert: a, Status: alert.Resolved})
		}
		msgs, _ = template.RenderDigest(items, o, digestLimits(ch.Kind, max(1, c.DigestMessages)))
	} else {
		g := template.Group{Policy: c.Policy, GroupLabels: c.GroupLabels, Firing: c.Firing, Resolved: c.Resolved, ExternalURL: c.ExternalURL}
		if ch.Kind != channel.KindWebhook {
			// A person reads what is new; a machine gets the whole group.
			g.Firing, g.StillFiring = c.Fresh()
		}
		msgs = []notify.Message{template.RenderGroup(g, o)}
	}
	for i := range msgs {
		msgs[i].ID = d.ID
		if len(msgs) > 1 {
			msgs[i].ID += "-" + strconv.Itoa(i+1)
		}
		if i == 0 {
			msgs[i].Mentions.People = c.Mentions
		}
	}
	return msgs
}
