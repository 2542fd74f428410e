package store

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestNewIDSortsInCallOrder(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	var ids IDs
	prev := ids.New(now)
	for i := range 10000 {
		// Same millisecond, and now and then a clock that steps back.
		at := now
		if i%100 == 0 {
			at = now.Add(-time.Second)
		}
		id := ids.New(at)
		if len(id) != 26 || id <= prev {
			t.Fatalf("id %d = %q after %q: want 26 characters, sorting after the previous one", i, id, prev)
		}
		prev = id
	}
	if later := ids.New(now.Add(time.Hour)); later <= prev {
		t.Errorf("an id an hour later sorts before earlier ones")
	}
}

func TestNewIDConcurrentDistinct(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]bool{}
	var ids IDs
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				id := ids.New(time.Now())
				mu.Lock()
				if seen[id] {
					t.Errorf("duplicate id %s", id)
				}
				seen[id] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

var uuidV7 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestNewUUIDSortsInCallOrder(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	var ids IDs
	prev := ids.NewUUID(now)
	// The first 48 bits are the milliseconds, as in a version 7 UUID.
	if want := fmt.Sprintf("%08x-%04x-", uint64(now.UnixMilli())>>16, now.UnixMilli()&0xffff); !strings.HasPrefix(prev, want) {
		t.Errorf("NewUUID = %s, want it to start with the milliseconds %s", prev, want)
	}
	for i := range 10000 {
		at := now
		if i%100 == 0 {
			at = now.Add(-time.Second)
		}
		// Ids of the other form, made in between, do not disturb the order.
		ids.New(at)
		id := ids.NewUUID(at)
		if !uuidV7.MatchString(id) || id <= prev {
			t.Fatalf("id %d = %q after %q: want a version 7 UUID, sorting after the previous one", i, id, prev)
		}
		prev = id
	}
	if later := ids.NewUUID(now.Add(time.Hour)); later <= prev {
		t.Errorf("an id an hour later sorts before earlier ones")
	}
}
