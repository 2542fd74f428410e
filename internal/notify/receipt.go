package notify

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

// SendParts posts parts in order, stopping at the first failure, and says
// how far it got. notes are the rendering's, passed on in the Receipt.
func SendParts[P any](parts []P, notes []string, post func(P) error) (Receipt, error) {
	rc := Receipt{Parts: len(parts), Notes: notes}
	for _, p := range parts {
		if err := post(p); err != nil {
			return rc, err
		}
		rc.Sent++
	}
	return rc, nil
}
