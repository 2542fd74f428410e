package lark

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Sign computes Lark's request signature for a bot with signature checking
// on: timestamp is now in Unix seconds, and sign is
// base64(HMAC-SHA256(key: timestamp+"\n"+secret, message: empty)).
//
// This is not DingTalk's recipe (key = secret, message = timestamp and
// secret, milliseconds) even though it looks alike; Lark answers 19021 to a
// request signed the DingTalk way. Both values go in the JSON body, as
// strings. Lark refuses a timestamp more than an hour off its clock, so
// sign per request and never cache the result.
func Sign(secret string, now time.Time) (timestamp, sign string) {
	timestamp = strconv.FormatInt(now.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(timestamp+"\n"+secret))
	// The message is empty: the key alone carries timestamp and secret.
	return timestamp, base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// hookPath is what every custom-bot webhook path ends in, before the token.
const hookPath = "/open-apis/bot/v2/hook/"

// target returns the URL to post to: the webhook as configured, without a
// fragment. It refuses URLs that cannot be a v2 custom-bot webhook, so a
// wrong paste fails here with a hint rather than at Lark with a bare 404.
func (b Bot) target() (string, error) {
	u, err := url.Parse(b.WebhookURL.Reveal())
	if err != nil {
		return "", err
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", errors.New("the webhook URL must be an http or https URL with a host")
	}
	// A proxy may put the API under a prefix, so only the end of the
	// path is fixed.
	i := strings.LastIndex(u.Path, hookPath)
	if i < 0 {
		if strings.Contains(u.Path, "/bot/hook/") {
			return "", errors.New("the webhook URL is a version 1 bot hook, which Lark retired: add the custom bot to the group again and copy its new URL")
		}
		return "", errors.New("the webhook URL's path does not end in " + hookPath + "<token>")
	}
	if tok := u.Path[i+len(hookPath):]; tok == "" || strings.Contains(tok, "/") {
		return "", errors.New("the webhook URL has no token after " + hookPath)
	}
	u.Fragment, u.RawFragment = "", ""
	return u.String(), nil
}

// tokenOf finds the token in a webhook URL by text alone, so that it can be
// masked even in a URL that does not parse.
func tokenOf(raw string) string {
	i := strings.LastIndex(raw, "/hook/")
	if i < 0 {
		return ""
	}
	tok := raw[i+len("/hook/"):]
	if j := strings.IndexAny(tok, "?#/"); j >= 0 {
		tok = tok[:j]
	}
	return tok
}
