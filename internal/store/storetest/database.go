package storetest

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tocsinhq/tocsin/internal/channel"
	"github.com/tocsinhq/tocsin/internal/secret"
	"github.com/tocsinhq/tocsin/internal/store"
)

func testMeta(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	ctx := t.Context()
	_, err := s.Meta(ctx, store.MetaAdminTokenHash)
	wantErr(t, "Meta of an unset key", err, store.ErrNotFound)

	steps := []struct{ key, value string }{
		{store.MetaAdminTokenHash, "hash-1"},
		{store.MetaAdminTokenHash, "hash-2"}, // replaces
		{"empty", ""},                        // set, though empty
	}
	for _, st := range steps {
		if err := s.SetMeta(ctx, st.key, st.value); err != nil {
			t.Fatalf("SetMeta(%q, %q): %v", st.key, st.value, err)
		}
		got, err := s.Meta(ctx, st.key)
		if err != nil || got != st.value {
			t.Errorf("after SetMeta(%q, %q), Meta got %q, %v", st.key, st.value, got, err)
		}
	}
	if got, err := s.Meta(ctx, store.MetaAdminTokenHash); err != nil || got != "hash-2" {
		t.Errorf("Meta(%q) got %q, %v; want hash-2: setting another key changed it", store.MetaAdminTokenHash, got, err)
	}
	// InitMeta sets an unset key once; later calls get the first value.
	for i, v := range []string{"first", "second"} {
		got, err := s.InitMeta(ctx, store.MetaSecretKeyCheck, v)
		if err != nil || got != "first" {
			t.Errorf("InitMeta call %d with %q got %q, %v; want first", i+1, v, got, err)
		}
	}
	if got, err := s.InitMeta(ctx, store.MetaAdminTokenHash, "other"); err != nil || got != "hash-2" {
		t.Errorf("InitMeta of a set key got %q, %v; want the stored hash-2", got, err)
	}
}

// testConcurrentCreates writes from several goroutines at once, as HTTP
// handlers do. SQLite must queue its writers rather than fail with
// SQLITE_BUSY.
func testConcurrentCreates(t *testing.T, h Harness) {
	const workers, each = 8, 20
	s := open(t, h, NewBox(t))
	chs := make([][]*channel.Channel, workers)
	for w := range workers {
		for i := range each {
			chs[w] = append(chs[w], NewChannel(t, fmt.Sprintf("worker-%d-%02d", w, i)))
		}
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i, ch := range chs[w] {
				if err := s.CreateChannel(t.Context(), ch, at(i)); err != nil {
					t.Errorf("worker %d: create %q: %v", w, ch.Name, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	got := ids(listAll(t, s, store.ChannelFilter{Limit: store.MaxLimit}))
	if len(got) != workers*each {
		t.Fatalf("store holds %d channels after %d concurrent creates", len(got), workers*each)
	}
	seen := map[string]bool{}
	for _, id := range got {
		if seen[id] {
			t.Errorf("id %s listed twice", id)
		}
		seen[id] = true
	}
	for _, list := range chs {
		for _, ch := range list {
			if !seen[ch.ID] {
				t.Errorf("channel %q (id %s) is not listed", ch.Name, ch.ID)
			}
		}
	}
}

// testNoSecretAtRest reads everything the backend stored and looks for the
// secrets in clear (and hex-encoded, as PostgreSQL prints bytea). It also
// looks for the channel names, which are not secret: finding them proves
// the dump holds the data at all.
func testNoSecretAtRest(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	first, second := NewChannel(t, "keeper-of-secrets"), NewChannel(t, "second-keeper")
	mustCreate(t, s, first, at(0))
	mustCreate(t, s, second, at(1))
	// An update writes new secrets; the old ones must not be left in clear.
	upd := NewChannel(t, "keeper-of-secrets")
	upd.ID = first.ID
	if err := s.UpdateChannel(t.Context(), upd, at(2)); err != nil {
		t.Fatalf("UpdateChannel: %v", err)
	}
	if err := s.SetMeta(t.Context(), "some-key", "some-value"); err != nil {
		t.Fatalf("SetMeta: %v", err)
	}
	secrets := append(append(secretsOf(t, first), secretsOf(t, second)...), secretsOf(t, upd)...)
	visible := []string{"keeper-of-secrets", "second-keeper", "some-value"}

	checkDump(t, h, "while open", visible, secrets)
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	checkDump(t, h, "after close", visible, secrets)
}

func checkDump(t *testing.T, h Harness, when string, visible, secrets []string) {
	t.Helper()
	dump, err := h.Dump(t.Context())
	if err != nil {
		t.Fatalf("dump %s: %v", when, err)
	}
	for _, v := range visible {
		if !bytes.Contains(dump, []byte(v)) {
			t.Errorf("dump %s (%d bytes) lacks %q, which was stored: it does not show what is at rest, so finding no secret in it proves nothing", when, len(dump), v)
		}
	}
	for _, v := range secrets {
		h := hex.EncodeToString([]byte(v))
		forms := []struct{ name, value string }{{"in clear", v}, {"hex-encoded", h}, {"hex-encoded", strings.ToUpper(h)}}
		for _, form := range forms {
			if bytes.Contains(dump, []byte(form.value)) {
				t.Errorf("dump %s holds the secret %s %s", when, secret.New(v), form.name)
			}
		}
	}
}

func testReopen(t *testing.T, h Harness) {
	box := NewBox(t)
	s := open(t, h, box)
	var chs []*channel.Channel
	for i, name := range []string{"one", "two", "three"} {
		ch := NewChannel(t, name)
		mustCreate(t, s, ch, at(i))
		chs = append(chs, ch)
	}
	if err := s.SetMeta(t.Context(), store.MetaAdminTokenHash, "hash"); err != nil {
		t.Fatalf("SetMeta: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	s = open(t, h, box)
	if diff := cmp.Diff(chs, listAll(t, s, store.ChannelFilter{}), channelOpts); diff != "" {
		t.Errorf("after reopening, the channels differ (-want +got):\n%s", diff)
	}
	if v, err := s.Meta(t.Context(), store.MetaAdminTokenHash); err != nil || v != "hash" {
		t.Errorf("after reopening, Meta got %q, %v; want hash", v, err)
	}
	mustCreate(t, s, NewChannel(t, "four"), at(3))
}

// testWrongKey opens a database with another key than its channels were
// sealed with: reading a channel must fail, not return garbage or an empty
// secret, and must not destroy anything.
func testWrongKey(t *testing.T, h Harness) {
	box := NewBox(t)
	s := open(t, h, box)
	ch := NewChannel(t, "sealed")
	mustCreate(t, s, ch, at(0))
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	other := open(t, h, NewBox(t))
	_, err := other.GetChannel(t.Context(), ch.ID)
	wantErr(t, "GetChannel with another key", err, secret.ErrOpen)
	_, err = other.GetChannelByName(t.Context(), ch.Name)
	wantErr(t, "GetChannelByName with another key", err, secret.ErrOpen)
	_, _, err = other.ListChannels(t.Context(), store.ChannelFilter{})
	wantErr(t, "ListChannels with another key", err, secret.ErrOpen)
	if err := other.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	s = open(t, h, box)
	if diff := diffChannel(ch, mustGet(t, s, ch.ID)); diff != "" {
		t.Errorf("with the right key again, the channel differs (-want +got):\n%s", diff)
	}
}

// testConcurrentOpen opens a new database several times at once, as
// replicas starting together do: each must migrate it or wait for the one
// that does, and none may fail.
func testConcurrentOpen(t *testing.T, h Harness) {
	const n = 4
	box := NewBox(t)
	stores := make([]store.Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = h.Open(t.Context(), box) })
	}
	wg.Wait()
	for _, s := range stores {
		if s != nil {
			t.Cleanup(func() { s.Close() })
		}
	}
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent open: %v", err)
	}
	ch := NewChannel(t, "shared")
	mustCreate(t, stores[0], ch, at(0))
	if diff := diffChannel(ch, mustGet(t, stores[n-1], ch.ID)); diff != "" {
		t.Errorf("read through another store, the channel differs (-want +got):\n%s", diff)
	}
}

func testPing(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
}
