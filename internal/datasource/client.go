package datasource

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"

	"github.com/tocsinhq/tocsin/internal/route"
	"github.com/tocsinhq/tocsin/internal/secret"
)

// MaxAnswerBytes bounds how much of one answer a Client reads: a query
// that matches more is refused rather than held in memory.
const MaxAnswerBytes = 64 << 20

// userAgent names Tocsin to the data source, whose query log shows it.
const userAgent = "Tocsin"

// Client queries one data source over Prometheus's HTTP API. It is safe
// for concurrent use; it keeps a copy of the source, so later changes to
// the Source do not reach it (make a new Client instead).
//
// Query has the shape of the Prometheus rule manager's QueryFunc
// (github.com/prometheus/prometheus/rules), so client.Query can evaluate
// rules with that package.
type Client struct {
	src  Source
	http *http.Client
	// hide lists what must never appear in an error: the secrets and
	// the basic auth header's encoding of them.
	hide []string
	// maxAnswer is MaxAnswerBytes; tests lower it.
	maxAnswer int64
}

// NewClient returns a client for s, which Validate has accepted. hc
// carries the requests; nil means a client for the whole package with
// Go's default transport timeouts. Each call is bounded by s's timeout
// through its context, so hc should set no shorter Timeout of its own:
// notify.NewHTTPClient(0, nil) suits (a data source is usually on a
// private address, which the channels' dial guard refuses). The client
// never follows
// redirects: a query API that redirects is misconfigured or a login page,
// and the redirect would turn the POST into a GET without the query.
func NewClient(s *Source, hc *http.Client) *Client {
	if hc == nil {
		hc = defaultHTTPClient()
	}
	c := *hc
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	src := *s
	src.Headers = maps.Clone(s.Headers)
	src.URL = strings.TrimRight(src.URL, "/")
	hide := []string{src.BearerToken.Reveal(), src.Password.Reveal()}
	if src.Username != "" {
		hide = append(hide, base64.StdEncoding.EncodeToString([]byte(src.Username+":"+src.Password.Reveal())))
	}
	return &Client{src: src, http: &c, hide: hide, maxAnswer: MaxAnswerBytes}
}

var defaultHTTPClient = sync.OnceValue(func() *http.Client {
	return &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
})

// Query evaluates expr at t (an instant query) and returns its vector. A
// scalar result comes back as one sample with no labels, as Prometheus's
// rule evaluation has it; any other result type is an error. A zero t
// lets the data source use its own clock.
//
// Every error is an *Error; its BadQuery says when the expression itself
// is wrong.
func (c *Client) Query(ctx context.Context, expr string, t time.Time) (promql.Vector, error) {
	form := url.Values{"query": {expr}}
	if !t.IsZero() {
		form.Set("time", formatTime(t))
	}
	v, err := c.post(ctx, "/api/v1/query", form)
	if err != nil {
		return nil, err
	}
	switch v := v.(type) {
	case promql.Vector:
		return v, nil
	case promql.Scalar:
		return promql.Vector{{T: v.T, F: v.V, Metric: labels.EmptyLabels()}}, nil
	case promql.Matrix:
		return nil, c.answerError(http.StatusOK, "the query gives a range vector, not an instant vector or a scalar: drop the [range] selector or wrap it in a function such as rate() or avg_over_time()")
	default:
		return nil, c.answerError(http.StatusOK, "the query gives a %s, not an instant vector or a scalar", v.Type())
	}
}

// QueryRange evaluates expr at every step from start to end (a range
// query) and returns the series. Every error is an *Error.
func (c *Client) QueryRange(ctx context.Context, expr string, start, end time.Time, step time.Duration) (promql.Matrix, error) {
	if step <= 0 {
		return nil, c.answerError(0, "a range query needs a positive step, got %s", step)
	}
	form := url.Values{
		"query": {expr},
		"start": {formatTime(start)},
		"end":   {formatTime(end)},
		"step":  {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)},
	}
	v, err := c.post(ctx, "/api/v1/query_range", form)
	if err != nil {
		return nil, err
	}
	m, ok := v.(promql.Matrix)
	if !ok {
		return nil, c.answerError(http.StatusOK, "a range query answered with a %s, not a matrix: is this a Prometheus-compatible API?", v.Type())
	}
	return m, nil
}

// Check queries "1" at the data source's own time, proving that the URL,
// the credentials and the headers reach a Prometheus-compatible API: the
// console's test button. Its error is an *Error saying what is wrong.
func (c *Client) Check(ctx context.Context) error {
	v, err := c.Query(ctx, "1", time.Time{})
	if err != nil {
		return err
	}
	if len(v) == 1 && v[0].F == 1 {
		return nil
	}
	got := fmt.Sprintf("%d samples", len(v))
	if len(v) == 1 {
		got = strconv.FormatFloat(v[0].F, 'g', -1, 64)
	}
	return c.answerError(http.StatusOK, "the query 1 gave %s, not 1: is this a Prometheus-compatible API?", got)
}

// post sends one query and decodes its answer, within the source's
// timeout.
func (c *Client) post(ctx context.Context, path string, form url.Values) (value, error) {
	timeout := c.src.timeout()
	// The timeout parameter asks the data source to stop evaluating when
	// Tocsin stops waiting; the context below enforces it regardless.
	form.Set("timeout", route.FormatDuration(timeout))
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, errTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.src.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, c.fail(&Error{Message: err.Error(), Err: err})
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	for name, v := range c.src.Headers {
		req.Header.Set(name, v)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	switch {
	case !c.src.BearerToken.IsZero():
		req.Header.Set("Authorization", "Bearer "+c.src.BearerToken.Reveal())
	case c.src.Username != "":
		req.SetBasicAuth(c.src.Username, c.src.Password.Reveal())
	}

	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.fail(c.transportError(ctx, timeout, err))
	}
	defer drainClose(resp.Body)
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		return nil, c.fail(&Error{Status: resp.StatusCode, Message: fmt.Sprintf(
			"the API redirects to %s: set the data source's URL to where it leads", secret.MaskURL(resp.Header.Get("Location")))})
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.maxAnswer+1))
	if err != nil {
		e := c.transportError(ctx, timeout, err)
		e.Status = resp.StatusCode
		return nil, c.fail(e)
	}
	if int64(len(body)) > c.maxAnswer {
		return nil, c.fail(&Error{Status: resp.StatusCode, Message: fmt.Sprintf(
			"the answer is larger than %d bytes: narrow the query, or aggregate it", c.maxAnswer)})
	}
	v, err := decodeAnswer(resp.StatusCode, resp.Header.Get("Content-Type"), body)
	if err != nil {
		return nil, c.fail(err)
	}
	return v, nil
}

// errTimeout is the cause of a query's context when the source's timeout
// ran out, as opposed to the caller's context ending.
var errTimeout = errors.New("data source timeout")

// transportError describes a failure to get (all of) an answer: the
// source's timeout, the caller giving up, or the network.
func (c *Client) transportError(ctx context.Context, timeout time.Duration, err error) *Error {
	switch {
	case errors.Is(context.Cause(ctx), errTimeout):
		return &Error{Message: fmt.Sprintf("no answer within the data source's timeout of %s: raise the timeout or make the query cheaper", route.FormatDuration(timeout)), Err: context.DeadlineExceeded}
	case ctx.Err() != nil:
		return &Error{Message: "the query was abandoned: " + context.Cause(ctx).Error(), Err: ctx.Err()}
	}
	return &Error{Message: "cannot reach it: " + err.Error(), Err: err}
}

// fail names the source in e and removes the secrets from its message.
func (c *Client) fail(err error) *Error {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Message: err.Error(), Err: err}
	}
	e.Source = c.src.Name
	e.Message = secret.Redact(e.Message, c.hide...)
	return e
}

func (c *Client) answerError(status int, format string, args ...any) *Error {
	return c.fail(&Error{Status: status, Message: fmt.Sprintf(format, args...)})
}

func drainClose(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, 64<<10))
	_ = body.Close()
}

// formatTime writes t as Prometheus reads it best: Unix seconds with
// exactly the milliseconds, which every compatible API accepts.
func formatTime(t time.Time) string {
	ms := t.UnixMilli()
	if ms < 0 {
		return strconv.FormatFloat(float64(ms)/1000, 'f', 3, 64)
	}
	return fmt.Sprintf("%d.%03d", ms/1000, ms%1000)
}

// Error is a query that failed. Its message names the data source and
// the HTTP status when that is not a 2xx; it never holds the source's
// secrets.
type Error struct {
	// Source is the data source's name.
	Source string
	// Status is the HTTP status of the answer; 0 when none came.
	Status int
	// Type is the errorType of a Prometheus error answer: bad_data (the
	// query is wrong), execution, timeout, canceled, unavailable,
	// internal, not_found; VictoriaMetrics sends the status as a
	// number. "" when the answer was not a Prometheus error.
	Type string
	// Message says what went wrong: the data source's own error
	// sentence, or Tocsin's.
	Message string
	// Err is the cause, for errors.Is: context.DeadlineExceeded when the
	// source's timeout ran out, ErrHistogram, a transport error. Its
	// text may name the URL; Error does not print it.
	Err error
}

// ErrHistogram is the cause of the error for an answer holding native
// histogram samples. A Client does not decode them: Prometheus's JSON
// gives bucket boundaries, not the schema and spans a
// histogram.FloatHistogram is made of, and alert rules compare floats;
// the error says to query histogram_quantile(), histogram_count() or
// histogram_sum() of the series instead.
var ErrHistogram = errors.New("native histogram samples")

// TypeBadData is Prometheus's errorType for a wrong query.
const TypeBadData = "bad_data"

// Error reads `data source "prom": HTTP 400 bad_data: <message>`.
func (e *Error) Error() string {
	var head []string
	if e.Status != 0 && (e.Status < 200 || e.Status > 299) {
		head = append(head, fmt.Sprintf("HTTP %d", e.Status))
	}
	if e.Type != "" {
		head = append(head, e.Type)
	}
	if len(head) > 0 {
		return fmt.Sprintf("data source %q: %s: %s", e.Source, strings.Join(head, " "), e.Message)
	}
	return fmt.Sprintf("data source %q: %s", e.Source, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// BadQuery reports whether the data source refused the expression itself
// (Prometheus's bad_data): the rule is wrong, not the data source.
func (e *Error) BadQuery() bool { return e.Type == TypeBadData }
