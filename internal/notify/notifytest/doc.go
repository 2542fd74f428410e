// Package notifytest holds recording fake servers that behave like the chat
// platforms Tocsin sends to, so that clients can be tested, and the README
// walk-through and load tools run, without the real services.
//
// Each fake is an [http.Handler] that answers the way the platform does
// (HTTP 200 with an error code in the body for nearly every refusal),
// enforces the platform's checks (signatures, keywords, IP allowlists, size
// and rate limits), and records what it accepted and every attempt it
// answered. Its clock is injectable, so bans and signature windows are
// tested by moving time rather than by sleeping.
//
// The fakes are written from the platforms' documentation and observed
// behaviour (see shared/reference/chat-apis.md), not from Tocsin's clients:
// they share no code with them, so a client bug cannot hide behind the same
// bug in its fake. The package does not import "testing", because the tocsin
// binary serves the fakes too ("tocsin fake dingtalk").
package notifytest
