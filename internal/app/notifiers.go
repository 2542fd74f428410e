package app

import (
	"context"
	"fmt"
	"slices"
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
// channel names, but those msg.Reached says an earlier attempt reached.
// Members DingTalk refuses are reported in the notes. Members its flow
// control skipped are to get the message later, for this delivery only:
// when nothing else failed, sendApp fails with a retryable error that names
// them. Every failure carries, in Error.Reached, the members and groups the
// message reached so far ("user:<id>", "group:<cid>"), so that the retry
// goes to the others only. It fails for good when nobody was reached at all.
func (s *senders) sendApp(ctx context.Context, set *channel.DingTalkApp, msg notify.Message) (httpapi.SendReport, error) {
	app := dingtalkapp.App{BaseURL: set.APIBaseURL, ClientID: set.ClientID, ClientSecret: set.ClientSecret, RobotCode: set.RobotCode}
	var (
		rep     httpapi.SendReport
		reached = slices.Clone(msg.Reached)
		waiting []string // flow-controlled
	)
	fail := func(err error) (httpapi.SendReport, error) {
		e := *notify.AsError(err)
		e.Reached = reached
		return rep, &e
	}
	var users []string
	for _, u := range set.UserIDs {
		if !slices.Contains(msg.Reached, appUser+u) {
			users = append(users, u)
		}
	}
	if len(users) > 0 {
		r, err := s.app.SendToUsers(ctx, app, users, msg)
		for _, u := range r.Delivered() {
			reached = append(reached, appUser+u)
		}
		rep.Messages += len(r.Delivered())
		rep.Notes = append(rep.Notes, r.Notes...)
		for _, u := range r.Refused() {
			rep.Notes = append(rep.Notes, fmt.Sprintf("user %s not reached: %s", u.UserID, u.Reason))
		}
		waiting = r.FlowControlled()
		if err != nil {
			return fail(err)
		}
	}
	for _, cid := range set.OpenConversationIDs {
		if slices.Contains(msg.Reached, appGroup+cid) {
			continue
		}
		g, err := s.app.SendToGroup(ctx, app, cid, msg)
		rep.Notes = append(rep.Notes, g.Notes...)
		if err != nil {
			return fail(err)
		}
		rep.Messages++
		reached = append(reached, appGroup+cid)
	}
	if len(waiting) > 0 {
		return fail(&notify.Error{Action: notify.Retry, Code: "flow-controlled",
			Message: "DingTalk is limiting how often users " + strings.Join(waiting, ", ") + " may be messaged; they get this message on a later attempt"})
	}
	if len(reached) == 0 {
		return rep, &notify.Error{Action: notify.Permanent, Code: "no-recipient-reached",
			Message: "DingTalk accepted the request but reached none of the channel's members: " + strings.Join(rep.Notes, "; "),
			Hint:    "check the user IDs: they must be members of the organisation the app belongs to, visible to the app"}
	}
	return rep, nil
}

// How sendApp names the recipients it reached, in notify.Error.Reached.
const (
	appUser  = "user:"
	appGroup = "group:"
)

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
