package store

import (
	"sync"
	"testing"
	"time"
)

func TestNewIDSortsInCallOrder(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	prev := NewID(now)
	for i := range 10000 {
		// Same millisecond, and now and then a clock that steps back.
		at := now
		if i%100 == 0 {
			at = now.Add(-time.Second)
		}
		id := NewID(at)
		if len(id) != 26 || id <= prev {
			t.Fatalf("id %d = %q after %q: want 26 characters, sorting after the previous one", i, id, prev)
		}
		prev = id
	}
	if later := NewID(now.Add(time.Hour)); later <= prev {
		t.Errorf("an id an hour later sorts before earlier ones")
	}
}

func TestNewIDConcurrentDistinct(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]bool{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				id := NewID(time.Now())
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
