package app

import (
	"context"
	"fmt"

	"github.com/tocsinhq/tocsin/internal/channel"
	"github.com/tocsinhq/tocsin/internal/httpapi"
	"github.com/tocsinhq/tocsin/internal/notify"
	"github.com/tocsinhq/tocsin/internal/notify/dingtalk"
	"github.com/tocsinhq/tocsin/internal/notify/webhook"
	"github.com/tocsinhq/tocsin/internal/notify/wecom"
)

// senders sends to a channel with the client of its platform. It is the
// one switch over channel kinds.
type senders struct {
	env      channel.Env
	dingtalk *dingtalk.Client
	webhook  *webhook.Client
	wecom    *wecom.Client
}

var _ httpapi.Sender = (*senders)(nil)

// SendNow sends msg to ch at once.
func (s *senders) SendNow(ctx context.Context, ch *channel.Channel, msg notify.Message) (httpapi.SendReport, error) {
	switch set := ch.Settings.(type) {
	case *channel.DingTalkRobot:
		if err := s.env.CheckURL(ch.Kind, set.WebhookURL.Reveal()); err != nil {
			return httpapi.SendReport{}, hostRefused(err)
		}
		rcpt, err := s.dingtalk.Send(ctx, dingTalkRobot(set), msg)
		return httpapi.SendReport{Messages: rcpt.Sent, Notes: rcpt.Notes}, err
	case *channel.WeComRobot:
		if err := s.env.CheckURL(ch.Kind, set.WebhookURL.Reveal()); err != nil {
			return httpapi.SendReport{}, hostRefused(err)
		}
		rcpt, err := s.wecom.Send(ctx, wecom.Robot{WebhookURL: set.WebhookURL, MsgType: wecom.MsgType(set.MsgType)}, msg)
		return httpapi.SendReport{Messages: rcpt.Sent, Notes: rcpt.Notes}, err
	case *channel.Webhook:
		if err := s.env.CheckURL(ch.Kind, set.URL.Reveal()); err != nil {
			return httpapi.SendReport{}, hostRefused(err)
		}
		err := s.webhook.Send(ctx, webhook.Target{URL: set.URL, Secret: set.Secret, Receiver: ch.Name}, msg)
		if err != nil {
			return httpapi.SendReport{}, err
		}
		return httpapi.SendReport{Messages: 1}, nil
	}
	return httpapi.SendReport{}, &notify.Error{Action: notify.Permanent, Code: "unsupported-kind",
		Message: fmt.Sprintf("sending to %s channels is not implemented yet", ch.Kind)}
}

func hostRefused(err error) error {
	return &notify.Error{Action: notify.Permanent, Code: "host-not-allowed", Message: err.Error(),
		Hint: "point the channel at the platform's own host, or start tocsin with --allow-hosts naming this host"}
}

// dingTalkRobot maps a channel's settings onto the robot client's config.
func dingTalkRobot(s *channel.DingTalkRobot) dingtalk.Robot {
	return dingtalk.Robot{
		WebhookURL: s.WebhookURL,
		Secret:     s.Secret,
		Keywords:   s.Keywords,
		AtMobiles:  s.AtMobiles,
		AtUserIDs:  s.AtUserIDs,
		AtAll:      s.AtAll,
		MsgType:    dingtalk.MsgType(s.MsgType),
	}
}
