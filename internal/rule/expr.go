package rule

import (
	"errors"
	"fmt"

	"github.com/prometheus/prometheus/promql/parser"
)

// promqlParser parses rule expressions with Prometheus's default options, as a
// Prometheus server loading a rule file does: no experimental functions.
var promqlParser = parser.NewParser(parser.Options{})

// ExprError is what is wrong with a PromQL expression: the parser's
// message and where it found the fault. Validate's problem for expr says
// the same in words; the preview endpoint gets the numbers from ParseExpr.
type ExprError struct {
	// Line and Column are 1-based; Column counts characters, not bytes, so
	// an editor can put the cursor there.
	Line, Column int
	Message      string
}

func (e *ExprError) Error() string {
	return fmt.Sprintf("%d:%d: %s", e.Line, e.Column, e.Message)
}

// ParseExpr parses a rule's PromQL and checks that it can drive an alert:
// it must give an instant vector or a scalar (a range vector or a string
// cannot fire). Its error is an *ExprError.
func ParseExpr(expr string) (parser.Expr, error) {
	e, err := promqlParser.ParseExpr(expr)
	if err != nil {
		return nil, exprError(expr, err)
	}
	switch t := e.Type(); t {
	case parser.ValueTypeVector, parser.ValueTypeScalar:
		return e, nil
	case parser.ValueTypeMatrix:
		return nil, &ExprError{Line: 1, Column: 1, Message: "the expression gives a range vector, which cannot fire an alert: " +
			"reduce it to one value per series with a function such as avg_over_time(…[5m]) or rate(…[5m])"}
	default:
		return nil, &ExprError{Line: 1, Column: 1, Message: fmt.Sprintf("the expression gives a %s, which cannot fire an alert: "+
			"write one that gives an instant vector (one value per series) or a scalar", parser.DocumentedType(t))}
	}
}

// exprError turns the parser's error into an ExprError at its first
// problem's start.
func exprError(expr string, err error) *ExprError {
	var (
		list parser.ParseErrors
		one  *parser.ParseErr
		pe   parser.ParseErr
	)
	switch {
	case errors.As(err, &list) && len(list) > 0:
		pe = list[0]
	case errors.As(err, &one):
		pe = *one
	default:
		return &ExprError{Line: 1, Column: 1, Message: err.Error()}
	}
	line, col := position(expr, int(pe.PositionRange.Start))
	msg := "parse error"
	if pe.Err != nil {
		msg = pe.Err.Error()
	}
	return &ExprError{Line: line, Column: col, Message: msg}
}

// position turns a byte offset of s into a 1-based line and character
// column. An offset outside s counts as its end.
func position(s string, offset int) (line, col int) {
	if offset < 0 || offset > len(s) {
		offset = len(s)
	}
	line, col = 1, 1
	for _, r := range s[:offset] { // by rune: col counts characters
		if r == '\n' {
			line, col = line+1, 1
			continue
		}
		col++
	}
	return line, col
}
