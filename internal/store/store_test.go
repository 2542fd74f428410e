package store

import (
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
