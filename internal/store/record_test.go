package store_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tocsinhq/tocsin/internal/channel"
	"github.com/tocsinhq/tocsin/internal/secret"
	"github.com/tocsinhq/tocsin/internal/store"
	"github.com/tocsinhq/tocsin/internal/store/storetest"
)

// channelOpts compare channels by their secrets' revealed values (their
// fields are unexported).
var channelOpts = cmp.Options{
	cmp.Comparer(func(a, b secret.String) bool { return a.Reveal() == b.Reveal() }),
	cmp.Comparer(func(a, b secret.URL) bool { return a.Reveal() == b.Reveal() }),
}

// now is in a zone other than UTC and has a part below the millisecond, so
// a record that keeps either shows it.
var now = time.Date(2026, 5, 20, 9, 30, 0, 123_456_789, time.FixedZone("CST", 8*60*60))

func TestChannelRecordRoundTrip(t *testing.T) {
	box := storetest.NewBox(t)
	for _, tt := range []struct {
		name string
		edit func(*channel.Channel)
	}{
		{"every field", func(*channel.Channel) {}},
		{"no card", func(ch *channel.Channel) { ch.Card = nil }},
		{"disabled, empty strings", func(ch *channel.Channel) {
			ch.Enabled, ch.Description, ch.Timezone = false, "", ""
			ch.DailyReport = channel.DailyReport{}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ch := storetest.NewChannel(t, "ops")
			tt.edit(ch)
			orig := *ch
			r, err := store.EncodeNewChannel(box, new(store.IDs).New(now), ch, now)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(&orig, ch, channelOpts); diff != "" {
				t.Errorf("EncodeNewChannel changed its channel (-before +after):\n%s", diff)
			}
			if len(r.ID) != 26 {
				t.Errorf("record ID %q: want a new 26-character id", r.ID)
			}
			wantTime := time.Date(2026, 5, 20, 1, 30, 0, 123_000_000, time.UTC)
			if !r.CreatedAt.Equal(wantTime) || r.CreatedAt.Location() != time.UTC || r.UpdatedAt != r.CreatedAt {
				t.Errorf("record times %v, %v: want both %v (UTC, whole milliseconds)", r.CreatedAt, r.UpdatedAt, wantTime)
			}
			if (ch.Card == nil) != (r.Card == nil) {
				t.Errorf("channel card %q became record card %q: want nil (NULL) exactly when there is none", ch.Card, r.Card)
			}
			for _, f := range ch.Settings.Secrets() {
				if v := f.Get(); v != "" && (bytes.Contains(r.Settings, []byte(v)) || bytes.Contains(r.Secrets, []byte(v))) {
					t.Errorf("secret %s is in the record in clear", f.Name)
				}
			}

			got, err := r.Decode(box)
			if err != nil {
				t.Fatal(err)
			}
			want := orig
			want.ID, want.CreatedAt, want.UpdatedAt = r.ID, r.CreatedAt, r.UpdatedAt
			if diff := cmp.Diff(&want, got, channelOpts); diff != "" {
				t.Errorf("Decode(EncodeNewChannel(ch)) differs from ch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestChannelRecordSealedToItsChannel(t *testing.T) {
	box := storetest.NewBox(t)
	r, err := store.EncodeNewChannel(box, new(store.IDs).New(now), storetest.NewChannel(t, "ops"), now)
	if err != nil {
		t.Fatal(err)
	}
	moved := r
	moved.ID = new(store.IDs).New(now)
	if _, err := moved.Decode(box); !errors.Is(err, secret.ErrOpen) {
		t.Errorf("Decode of secrets moved to another channel id: got error %v, want secret.ErrOpen", err)
	}
	if _, err := r.Decode(storetest.NewBox(t)); !errors.Is(err, secret.ErrOpen) {
		t.Errorf("Decode with another key: got error %v, want secret.ErrOpen", err)
	}
}

func TestEncodeChannelRefusesNoSettings(t *testing.T) {
	ch := storetest.NewChannel(t, "ops")
	ch.Settings = nil
	if _, err := store.EncodeChannel(storetest.NewBox(t), ch); err == nil {
		t.Error("EncodeChannel of a channel without settings succeeded")
	}
}

func TestDecodeRefusesDamagedRecords(t *testing.T) {
	box := storetest.NewBox(t)
	good, err := store.EncodeNewChannel(box, new(store.IDs).New(now), storetest.NewChannel(t, "ops"), now)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		damage func(*store.ChannelRecord)
	}{
		{"unknown kind", func(r *store.ChannelRecord) { r.Kind = "carrier_pigeon" }},
		{"settings not JSON", func(r *store.ChannelRecord) { r.Settings = []byte("{") }},
		{"daily report not JSON", func(r *store.ChannelRecord) { r.DailyReport = []byte("[") }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := good
			tt.damage(&r)
			if _, err := r.Decode(box); err == nil {
				t.Errorf("Decode succeeded")
			}
		})
	}
}

func TestChannelPage(t *testing.T) {
	box := storetest.NewBox(t)
	var rs []store.ChannelRecord
	for i := range 3 {
		r, err := store.EncodeNewChannel(box, new(store.IDs).New(now), storetest.NewChannel(t, fmt.Sprintf("ch-%d", i)), now)
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	for _, tt := range []struct {
		name      string
		rs        []store.ChannelRecord
		limit     int
		wantNames []string
		wantNext  string
	}{
		{"none", nil, 2, []string{}, ""},
		{"fewer than the limit", rs[:1], 2, []string{"ch-0"}, ""},
		{"exactly the limit", rs[:2], 2, []string{"ch-0", "ch-1"}, ""},
		{"one more than the limit", rs, 2, []string{"ch-0", "ch-1"}, rs[1].ID},
	} {
		t.Run(tt.name, func(t *testing.T) {
			items, next, err := store.ChannelPage(box, tt.rs, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			names := []string{}
			for _, ch := range items {
				names = append(names, ch.Name)
			}
			if !cmp.Equal(names, tt.wantNames) || next != tt.wantNext {
				t.Errorf("got %q, next %q; want %q, next %q", names, next, tt.wantNames, tt.wantNext)
			}
		})
	}
}

// The stored JSON is what the API would show: secrets masked.
func TestChannelRecordSettingsAreMasked(t *testing.T) {
	ch := storetest.NewChannel(t, "ops")
	r, err := store.EncodeChannel(storetest.NewBox(t), ch)
	if err != nil {
		t.Fatal(err)
	}
	want, err := json.Marshal(ch.Settings)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.Settings, want) {
		t.Errorf("record settings %s, want the settings' own (masked) JSON %s", r.Settings, want)
	}
}
