package notify

import (
	"context"
	"errors"
)

// Receipt says how far sending a message, rendered into parts, got.
type Receipt struct {
	// Parts is how many payloads the message was rendered into.
	Parts int
	// Sent is how many of them the platform accepted: parts 1 to Sent
	// went out, in order, and sending stopped at the next one.
	Sent int
	// Notes are what the platform could not carry as asked (the
	// rendering's notes).
	Notes []string
}

// PartGate is asked before each part of a message is posted. The outbox
// uses it to spend the channel's send budget one platform message at a
// time and to resume a split message after the parts an earlier attempt
// delivered.
type PartGate interface {
	// Before returns nil to post the next part, ErrPartSent to skip it as
	// already delivered, or another error to stop sending (SendParts
	// returns that error).
	Before(ctx context.Context) error
}

// ErrPartSent tells SendParts a part went out in an earlier attempt.
var ErrPartSent = errors.New("part already sent")

type gateKey struct{}

// WithPartGate returns ctx carrying g, which every SendParts under ctx
// consults.
func WithPartGate(ctx context.Context, g PartGate) context.Context {
	return context.WithValue(ctx, gateKey{}, g)
}

// SendParts posts parts in order, stopping at the first failure, and says
// how far it got. notes are the rendering's, passed on in the Receipt. A
// PartGate in ctx is asked before each part.
func SendParts[P any](ctx context.Context, parts []P, notes []string, post func(P) error) (Receipt, error) {
	rc := Receipt{Parts: len(parts), Notes: notes}
	gate, _ := ctx.Value(gateKey{}).(PartGate)
	for _, p := range parts {
		if gate != nil {
			switch err := gate.Before(ctx); {
			case errors.Is(err, ErrPartSent):
				rc.Sent++
				continue
			case err != nil:
				return rc, err
			}
		}
		if err := post(p); err != nil {
			return rc, err
		}
		rc.Sent++
	}
	return rc, nil
}
