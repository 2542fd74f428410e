package notifytest

import "slices"

// ledger files, by token (or key), every request a chat fake answered and
// the faults queued for the next ones, unknown tokens included. The fake's
// mutex guards it; the zero value is ready to use.
type ledger struct {
	attempts map[string][]Attempt // oldest first
	faults   map[string][]Fault   // next first
}

func (l *ledger) record(token string, a Attempt) {
	if l.attempts == nil {
		l.attempts = make(map[string][]Attempt)
	}
	l.attempts[token] = append(l.attempts[token], a)
}

func (l *ledger) attemptsFor(token string) []Attempt { return slices.Clone(l.attempts[token]) }

// failNext queues fault for the next n requests for token.
func (l *ledger) failNext(token string, n int, fault Fault) {
	if l.faults == nil {
		l.faults = make(map[string][]Fault)
	}
	for range n {
		l.faults[token] = append(l.faults[token], fault)
	}
}

// takeFault removes and returns the next fault queued for token.
func (l *ledger) takeFault(token string) (Fault, bool) {
	q := l.faults[token]
	if len(q) == 0 {
		return Fault{}, false
	}
	l.faults[token] = q[1:]
	return q[0], true
}
