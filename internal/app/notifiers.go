package app

import (
	"context"
	"fmt"
	"strings"

	"github.com/tocsinhq/tocsin/internal/channel"
	"github.com/tocsinhq/tocsin/internal/httpapi"
	"github.com/tocsinhq/tocsin/internal/notify"
	"github.com/tocsinhq/tocsin/internal/notify/dingtalk"
	"github.com/tocsinhq/tocsin/internal/notify/dingtalkapp"
	"github.com/tocsinhq/tocsin/internal/notify/lark"
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
	app      *dingtalkapp.Client
	lark     *lark.Client
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
	case *channel.DingTalkApp:
		if err := s.env.CheckURL(ch.Kind, set.APIBaseURL); err != nil {
			return httpapi.SendReport{}, hostRefused(err)
		}
		return s.sendApp(ctx, set, msg)
	case *channel.LarkRobot:
		if err := s.env.CheckURL(ch.Kind, set.WebhookURL.Reveal()); err != nil {
			return httpapi.SendReport{}, hostRefused(err)
		}
		bot := lark.Bot{WebhookURL: set.WebhookURL, Secret: set.Secret, Keywords: set.Keywords, MsgType: lark.MsgType(set.MsgType)}
		rcpt, err := s.lark.Send(ctx, bot, msg)
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

// sendApp sends through a DingTalk app robot to every member and group the
// channel names. Members DingTalk refuses or flow-controls are reported in
// the notes; it fails when a call fails or when nobody was reached.
func (s *senders) sendApp(ctx context.Context, set *channel.DingTalkApp, msg notify.Message) (httpapi.SendReport, error) {
	app := dingtalkapp.App{BaseURL: set.APIBaseURL, ClientID: set.ClientID, ClientSecret: set.ClientSecret, RobotCode: set.RobotCode}
	var rep httpapi.SendReport
	if len(set.UserIDs) > 0 {
		r, err := s.app.SendToUsers(ctx, app, set.UserIDs, msg)
		rep.Messages += len(r.Delivered())
		rep.Notes = append(rep.Notes, r.Notes...)
		for _, u := range r.Refused() {
			rep.Notes = append(rep.Notes, fmt.Sprintf("user %s not reached: %s", u.UserID, u.Reason))
		}
		if fc := r.FlowControlled(); len(fc) > 0 {
			rep.Notes = append(rep.Notes, fmt.Sprintf("users %s not reached now: DingTalk is limiting how often they may be messaged", strings.Join(fc, ", ")))
		}
		if err != nil {
			return rep, err
		}
	}
	for _, cid := range set.OpenConversationIDs {
		g, err := s.app.SendToGroup(ctx, app, cid, msg)
		rep.Notes = append(rep.Notes, g.Notes...)
		if err != nil {
			return rep, err
		}
		rep.Messages++
	}
	if rep.Messages == 0 {
		return rep, &notify.Error{Action: notify.Permanent, Code: "no-recipient-reached",
			Message: "DingTalk accepted the request but reached none of the channel's members: " + strings.Join(rep.Notes, "; "),
			Hint:    "check the user IDs: they must be members of the organisation the app belongs to, visible to the app"}
	}
	return rep, nil
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
