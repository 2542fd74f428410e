package route

import (
	"fmt"
	"slices"
	"strings"
)

// Problem is one thing wrong with a policy, silence or inhibition rule, tied
// to the JSON path of the field at fault ("mute_time_windows[0].times[1].end").
// Its shape is the one channel.Problem has, so the HTTP layer can render both
// alike.
type Problem struct {
	Field   string `json:"field,omitempty"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Problems collects every problem of one input, so a person fixes them all
// in one go. The zero value is empty and ready.
type Problems struct {
	List []Problem
}

func (p *Problems) add(field, code, format string, args ...any) {
	p.List = append(p.List, Problem{Field: field, Code: code, Message: fmt.Sprintf(format, args...)})
}

// has reports whether field, or a part of it ("matchers[2]" of
// "matchers"), already has a problem, so checks that relate fields stay
// quiet when one of them could not even be read.
func (p *Problems) has(field string) bool {
	return slices.ContainsFunc(p.List, func(pr Problem) bool {
		rest, ok := strings.CutPrefix(pr.Field, field)
		return ok && (rest == "" || rest[0] == '[' || rest[0] == '.')
	})
}

// Err returns p as an error, or nil when there is no problem.
func (p *Problems) Err() error {
	if p == nil || len(p.List) == 0 {
		return nil
	}
	return p
}

func (p *Problems) Error() string {
	msgs := make([]string, len(p.List))
	for i, pr := range p.List {
		if pr.Field != "" {
			msgs[i] = pr.Field + ": " + pr.Message
		} else {
			msgs[i] = pr.Message
		}
	}
	return strings.Join(msgs, "; ")
}
