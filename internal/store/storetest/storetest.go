// Package storetest is the contract suite of store.Store: one set of
// behavioural tests that every backend (store/sqlite, store/postgres) runs
// against a real database, so the backends agree with each other and with
// the contract in package store. A backend's test calls Run with a function
// that makes a new, empty database.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tocsinhq/tocsin/internal/channel"
	"github.com/tocsinhq/tocsin/internal/secret"
	"github.com/tocsinhq/tocsin/internal/store"
)

// Harness is one new, empty database of the backend under test.
type Harness struct {
	// Open opens a store on the database, sealing secrets with box. The
	// suite may open the database again (with the same key or another)
	// after closing it, or several times at once. It closes every store it
	// opens when the test ends, so a store closed already is closed again:
	// that must be harmless.
	Open func(ctx context.Context, box *secret.Box) (store.Store, error)
	// Dump returns everything the backend keeps for the database, as the
	// bytes an attacker with the disk or a database account would read
	// (SQLite: the database file with its -wal and -shm; PostgreSQL: every
	// row of every table as text). The suite checks no secret is in it.
	Dump func(ctx context.Context) ([]byte, error)
}

// Run runs the contract suite. newHarness makes a new, empty database for
// each subtest, which the backend drops when t ends; subtests run in
// parallel, so newHarness must be safe to call concurrently.
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	tests := []struct {
		name string
		test func(t *testing.T, h Harness)
	}{
		{"CreateAndGet", testCreateAndGet},
		{"GetMissing", testGetMissing},
		{"IDsIncrease", testIDsIncrease},
		{"DuplicateName", testDuplicateName},
		{"NamesCompareExactly", testNamesCompareExactly},
		{"Update", testUpdate},
		{"UpdateMissing", testUpdateMissing},
		{"UpdateToTakenName", testUpdateToTakenName},
		{"Delete", testDelete},
		{"DeleteMissing", testDeleteMissing},
		{"ListQuery", testListQuery},
		{"ListKind", testListKind},
		{"ListPages", testListPages},
		{"ListPagesWithQuery", testListPagesWithQuery},
		{"ContactCreateAndGet", testContactCreateAndGet},
		{"ContactMissing", testContactMissing},
		{"ContactDuplicateName", testContactDuplicateName},
		{"ContactUpdate", testContactUpdate},
		{"ContactDelete", testContactDelete},
		{"ContactListQuery", testContactListQuery},
		{"ContactListPages", testContactListPages},
		{"GroupCreateAndGet", testGroupCreateAndGet},
		{"GroupMissing", testGroupMissing},
		{"GroupDuplicateName", testGroupDuplicateName},
		{"GroupMissingMembers", testGroupMissingMembers},
		{"GroupRepeatedMember", testGroupRepeatedMember},
		{"GroupUpdateReplacesMembers", testGroupUpdateReplacesMembers},
		{"DeleteHeldMember", testDeleteHeldMember},
		{"GroupListQueryAndPages", testGroupListQueryAndPages},
		{"ConcurrentContactsAndGroups", testConcurrentContactsAndGroups},
		{"ConcurrentDeleteAndJoin", testConcurrentDeleteAndJoin},
		{"PolicyCreateAndGet", testPolicyCreateAndGet},
		{"PolicyMissing", testPolicyMissing},
		{"PolicyDuplicateName", testPolicyDuplicateName},
		{"PolicyMissingTargets", testPolicyMissingTargets},
		{"PolicyUpdate", testPolicyUpdate},
		{"PolicyRefusesInvalid", testPolicyRefusesInvalid},
		{"PolicyOrderAndPages", testPolicyOrderAndPages},
		{"DeleteTargeted", testDeleteTargeted},
		{"RuleCreateAndGet", testRuleCreateAndGet},
		{"RuleMissing", testRuleMissing},
		{"RuleDuplicateName", testRuleDuplicateName},
		{"RuleMissingKeys", testRuleMissingKeys},
		{"RuleRefusesDisagreement", testRuleRefusesDisagreement},
		{"RuleUpdate", testRuleUpdate},
		{"RuleNamesFollowRenames", testRuleNamesFollowRenames},
		{"RuleListQueryKindPages", testRuleListQueryKindPages},
		{"RuleStates", testRuleStates},
		{"DeleteUsedByRules", testDeleteUsedByRules},
		{"ConcurrentDeleteAndUse", testConcurrentDeleteAndUse},
		{"DatasourceCreateAndGet", testDatasourceCreateAndGet},
		{"DatasourceMissing", testDatasourceMissing},
		{"DatasourceDuplicateName", testDatasourceDuplicateName},
		{"DatasourceUpdate", testDatasourceUpdate},
		{"DatasourceDeleteAndPages", testDatasourceDeleteAndPages},
		{"DatasourceNoSecretAtRest", testDatasourceNoSecretAtRest},
		{"DatasourceWrongKey", testDatasourceWrongKey},
		{"SilenceCreateAndGet", testSilenceCreateAndGet},
		{"SilenceMissing", testSilenceMissing},
		{"SilenceUpdateAndExpire", testSilenceUpdateAndExpire},
		{"SilenceReplace", testSilenceReplace},
		{"SilenceListEndsAfter", testSilenceListEndsAfter},
		{"IngestTokens", testIngestTokens},
		{"EventInsertAndGet", testEventInsertAndGet},
		{"EventDuplicates", testEventDuplicates},
		{"EventInsertAllOrNothing", testEventInsertAllOrNothing},
		{"EventListFilters", testEventListFilters},
		{"EventListPages", testEventListPages},
		{"ConcurrentEventInserts", testConcurrentEventInserts},
		{"Meta", testMeta},
		{"ConcurrentCreates", testConcurrentCreates},
		{"NoSecretAtRest", testNoSecretAtRest},
		{"Reopen", testReopen},
		{"WrongKey", testWrongKey},
		{"ConcurrentOpen", testConcurrentOpen},
		{"Ping", testPing},
		{"IngestLifecycle", testIngestLifecycle},
		{"ListAlerts", testListAlerts},
		{"FlushGroup", testFlushGroup},
		{"Outbox", testOutbox},
		{"Budget", testBudget},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Each subtest has its own database, so they may run side by
			// side; PostgreSQL spends most of a subtest creating its database.
			t.Parallel()
			tt.test(t, newHarness(t))
		})
	}
}

// NewBox returns a box with a new random key.
func NewBox(tb testing.TB) *secret.Box {
	tb.Helper()
	box, err := secret.NewBox(randomBytes(secret.KeySize))
	if err != nil {
		tb.Fatal(err)
	}
	return box
}

var dingTalk = &url.URL{Scheme: "https", Host: "oapi.dingtalk.com"}

// NewChannel returns a valid DingTalk robot channel named name, with every
// field set and a new random access token and signing secret, built the way
// the API builds one (channel.Decode, channel.Validate).
func NewChannel(tb testing.TB, name string) *channel.Channel {
	tb.Helper()
	in, err := json.Marshal(map[string]any{
		"name":        name,
		"kind":        channel.KindDingTalkRobot,
		"description": "on-call group of " + name,
		"enabled":     true,
		"timezone":    "Asia/Shanghai",
		"settings": map[string]any{
			"webhook_url": "https://oapi.dingtalk.com/robot/send?access_token=" + hex.EncodeToString(randomBytes(32)),
			"secret":      "SEC" + hex.EncodeToString(randomBytes(32)),
			"keywords":    []string{"alert", "告警"},
			"at_mobiles":  []string{"13800000000"},
			"at_user_ids": []string{},
			"msg_type":    "markdown",
			"budget":      map[string]any{"messages": 10, "per": "1m"},
		},
		"daily_report": map[string]any{"times": []string{"18:00", "09:00"}, "timezone": "UTC"},
		"card":         map[string]any{"show_labels": true, "buttons": []string{"silence"}},
	})
	if err != nil {
		tb.Fatal(err)
	}
	input, err := channel.Decode(in)
	if err != nil {
		tb.Fatalf("decode channel %q: %v", name, err)
	}
	ch, err := channel.Validate(input, channel.Env{DingTalkRobotBase: dingTalk})
	if err != nil {
		tb.Fatalf("validate channel %q: %v", name, err)
	}
	return ch
}

// secretsOf returns the secret values of ch's settings, in clear, with the
// webhook's access token on its own (the part of the URL that matters).
func secretsOf(tb testing.TB, ch *channel.Channel) []string {
	tb.Helper()
	var out []string
	for _, f := range ch.Settings.Secrets() {
		v := f.Get()
		if v == "" {
			continue
		}
		out = append(out, v)
		if u, err := url.Parse(v); err == nil {
			if tok := u.Query().Get("access_token"); tok != "" {
				out = append(out, tok)
			}
		}
	}
	if len(out) == 0 {
		tb.Fatalf("channel %q has no secrets to look for", ch.Name)
	}
	return out
}

// open opens a store on h and closes it when t ends.
func open(t *testing.T, h Harness, box *secret.Box) store.Store {
	t.Helper()
	s, err := h.Open(t.Context(), box)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return s
}

func mustCreate(t *testing.T, s store.Store, ch *channel.Channel, now time.Time) {
	t.Helper()
	if err := s.CreateChannel(t.Context(), ch, now); err != nil {
		t.Fatalf("create channel %q: %v", ch.Name, err)
	}
}

func mustGet(t *testing.T, s store.Store, id string) *channel.Channel {
	t.Helper()
	ch, err := s.GetChannel(t.Context(), id)
	if err != nil {
		t.Fatalf("get channel %s: %v", id, err)
	}
	return ch
}

// wantErr fails t unless err is (wraps) want.
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: got error %v, want %v", what, err, want)
	}
}

// listAll returns every channel f selects, following cursors.
func listAll(t *testing.T, s store.Store, f store.ChannelFilter) []*channel.Channel {
	t.Helper()
	var all []*channel.Channel
	for page := 0; ; page++ {
		if page > store.MaxLimit {
			t.Fatalf("list %+v: no last page after %d pages", f, page)
		}
		items, next, err := s.ListChannels(t.Context(), f)
		if err != nil {
			t.Fatalf("list %+v: %v", f, err)
		}
		all = append(all, items...)
		if next == "" {
			return all
		}
		f.Cursor = next
	}
}

func names(chs []*channel.Channel) []string {
	out := make([]string, len(chs))
	for i, ch := range chs {
		out[i] = ch.Name
	}
	return out
}

func ids(chs []*channel.Channel) []string {
	out := make([]string, len(chs))
	for i, ch := range chs {
		out[i] = ch.ID
	}
	return out
}

func ordinal(i int) string { return fmt.Sprintf("%02d", i) }

// randomBytes returns n random bytes.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b) // never fails
	return b
}

// t0 is the suite's clock. It is in a zone other than UTC and has a part
// below the millisecond, so a store that keeps either wrong shows it.
var t0 = time.Date(2026, 5, 20, 9, 30, 0, 123_456_789, time.FixedZone("CST", 8*60*60))

// at returns t0 plus ms milliseconds: distinct times make distinct, ordered
// ids (ids of different stores order by millisecond only).
func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// channelOpts compare channels as a store must keep them: secrets by their
// revealed values (their fields are unexported), times to the millisecond
// and regardless of zone.
var channelOpts = cmp.Options{
	cmp.Comparer(func(a, b secret.String) bool { return a.Reveal() == b.Reveal() }),
	cmp.Comparer(func(a, b secret.URL) bool { return a.Reveal() == b.Reveal() }),
	cmp.Comparer(func(a, b time.Time) bool {
		return a.Truncate(time.Millisecond).Equal(b.Truncate(time.Millisecond))
	}),
}

func diffChannel(want, got *channel.Channel) string { return cmp.Diff(want, got, channelOpts) }
