package outbox

import (
	"strconv"
	"time"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/channel"
	"github.com/tocsinhq/tocsin/internal/notify"
	"github.com/tocsinhq/tocsin/internal/store"
	"github.com/tocsinhq/tocsin/internal/template"
)

// Renderer turns a delivery into the messages to send.
type Renderer interface {
	Render(ch *channel.Channel, d *store.Delivery, c *Content, loc *time.Location, publicURL string) []notify.Message
}

// DefaultRenderer renders with Tocsin's default templates.
type DefaultRenderer struct{}

// digestBytes is how much text a digest message may hold on a platform:
// under its limit with room for the title, keyword and mentions the
// platform client adds.
func digestBytes(k channel.Kind) int {
	switch k {
	case channel.KindDingTalkRobot:
		return 18000
	case channel.KindLarkRobot:
		return 15000
	case channel.KindWeComRobot:
		return 3500
	case channel.KindDingTalkApp:
		return 4500
	}
	return 60000
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
		msgs, _ = template.RenderDigest(items, o, template.DigestLimits{MaxBytes: digestBytes(ch.Kind), MaxMessages: max(1, c.DigestMessages)})
	} else {
		msgs = []notify.Message{template.RenderGroup(template.Group{
			Policy: c.Policy, GroupLabels: c.GroupLabels, Firing: c.Firing, Resolved: c.Resolved, ExternalURL: c.ExternalURL,
		}, o)}
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
