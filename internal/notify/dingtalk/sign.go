package dingtalk

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/url"
	"strconv"
	"time"
)

// Sign computes DingTalk's request signature for a robot with signing
// enabled: timestamp is now in Unix milliseconds, sign is
// base64(HMAC-SHA256(key: secret, message: timestamp+"\n"+secret)).
//
// sign is returned plain, not URL-encoded: it contains + / =, and it must be
// encoded exactly once, by url.Values, when it goes into the query.
// DingTalk refuses a timestamp more than an hour off its clock, so sign per
// request and never cache the result.
func Sign(secret string, now time.Time) (timestamp, sign string) {
	timestamp = strconv.FormatInt(now.UnixMilli(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp + "\n" + secret))
	return timestamp, base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// sendURL returns the URL to post to: the webhook with its own query kept,
// any timestamp and sign it carried dropped, and, when the robot signs, a
// fresh timestamp and sign added. Rebuilding the query with url.Values
// means the sign is encoded once and nothing piles up across calls.
// sign is returned so that errors can be redacted of it: a signature is
// valid for an hour and could be replayed.
func (r Robot) sendURL(now time.Time) (target, sign string, err error) {
	u, err := url.Parse(r.WebhookURL.Reveal())
	if err != nil {
		return "", "", err
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", "", errors.New("the webhook URL must be an http or https URL with a host")
	}
	q := u.Query()
	if q.Get("access_token") == "" {
		return "", "", errors.New("the webhook URL has no access_token parameter")
	}
	q.Del("timestamp")
	q.Del("sign")
	if s := r.Secret.Reveal(); s != "" {
		var ts string
		ts, sign = Sign(s, now)
		q.Set("timestamp", ts)
		q.Set("sign", sign)
	}
	u.RawQuery = q.Encode()
	u.Fragment = ""
	return u.String(), sign, nil
}
