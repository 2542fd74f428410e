package channel

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with an input, tied to the JSON path of the
// field at fault ("settings.keywords[2]").
type Problem struct {
	Field   string `json:"field,omitempty"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Problems collects every problem of one input, so a person fixes them all
// in one go instead of one per request. The zero value is empty and ready.
type Problems struct {
	List []Problem
}

func (p *Problems) add(field, code, format string, args ...any) {
	p.List = append(p.List, Problem{Field: field, Code: code, Message: fmt.Sprintf(format, args...)})
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

func problem(field, code, msg string) *Problems {
	return &Problems{List: []Problem{{Field: field, Code: code, Message: msg}}}
}
