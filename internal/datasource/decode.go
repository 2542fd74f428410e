package datasource

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
)

// value is a query's result: promql.Vector, Scalar, Matrix or String.
type value = parser.Value

// excerptLen is how much of an answer that is not Prometheus JSON an
// error quotes: enough to recognise a login page or a proxy's error.
const excerptLen = 200

// envelope is every answer of Prometheus's query API.
type envelope struct {
	Status    string          `json:"status"`
	Data      json.RawMessage `json:"data"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
}

type resultData struct {
	ResultType string          `json:"resultType"`
	Result     json.RawMessage `json:"result"`
}

// decodeAnswer reads an answer of /api/v1/query or /api/v1/query_range
// as Prometheus writes it (web/api/v1): an envelope with status "success"
// and data {resultType, result}, or status "error" with errorType and
// error. Sample values are strings ("1.5", "NaN", "+Inf", "-Inf"; a bare
// JSON number is accepted too), timestamps Unix seconds with up to
// millisecond decimals.
//
// Native histogram samples are refused with an error wrapping
// ErrHistogram (which says why) rather than decoded.
// Warnings and infos in the envelope are ignored, as Prometheus's own rule
// evaluation ignores them.
//
// Errors are *Error without the Source, which the client fills in.
func decodeAnswer(status int, contentType string, body []byte) (value, error) {
	var env envelope
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&env); err != nil || (env.Status != "success" && env.Status != "error") {
		return nil, notPrometheus(status, contentType, body)
	}
	if env.Status == "error" {
		msg := env.Error
		if msg == "" {
			msg = "the data source gave no error message"
		}
		return nil, &Error{Status: status, Type: env.ErrorType, Message: msg}
	}
	if status < 200 || status > 299 {
		return nil, notPrometheus(status, contentType, body)
	}
	var data resultData
	if err := json.Unmarshal(env.Data, &data); err != nil || data.ResultType == "" {
		return nil, malformed(status, "data has no resultType")
	}
	v, err := decodeResult(data.ResultType, data.Result)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.Status = status
			return nil, e
		}
		return nil, malformed(status, "%s result: %v", data.ResultType, err)
	}
	return v, nil
}

func decodeResult(resultType string, raw json.RawMessage) (value, error) {
	switch resultType {
	case "vector":
		var samples []struct {
			Metric    map[string]string `json:"metric"`
			Value     *pair             `json:"value"`
			Histogram json.RawMessage   `json:"histogram"`
		}
		if err := json.Unmarshal(raw, &samples); err != nil {
			return nil, err
		}
		vec := make(promql.Vector, 0, len(samples))
		for _, s := range samples {
			ls := labels.FromMap(s.Metric)
			switch {
			case isPresent(s.Histogram):
				return nil, histogramError(ls)
			case s.Value == nil:
				return nil, fmt.Errorf("the sample of %s has no value", ls)
			}
			vec = append(vec, promql.Sample{Metric: ls, T: s.Value.T, F: s.Value.F})
		}
		return vec, nil
	case "matrix":
		var series []struct {
			Metric     map[string]string `json:"metric"`
			Values     []pair            `json:"values"`
			Histograms json.RawMessage   `json:"histograms"`
		}
		if err := json.Unmarshal(raw, &series); err != nil {
			return nil, err
		}
		m := make(promql.Matrix, 0, len(series))
		for _, s := range series {
			ls := labels.FromMap(s.Metric)
			if isPresent(s.Histograms) && string(s.Histograms) != "[]" {
				return nil, histogramError(ls)
			}
			points := make([]promql.FPoint, len(s.Values))
			for i, p := range s.Values {
				points[i] = promql.FPoint{T: p.T, F: p.F}
			}
			m = append(m, promql.Series{Metric: ls, Floats: points})
		}
		return m, nil
	case "scalar":
		var p pair
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, err
		}
		return promql.Scalar{T: p.T, V: p.F}, nil
	case "string":
		var p [2]json.RawMessage
		var s string
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, err
		}
		t, err := parseTimestamp(p[0])
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(p[1], &s); err != nil {
			return nil, errors.New("a string result's value must be a string")
		}
		return promql.String{T: t, V: s}, nil
	}
	return nil, fmt.Errorf("unknown resultType %q", resultType)
}

func isPresent(raw json.RawMessage) bool { return len(raw) > 0 && string(raw) != "null" }

func histogramError(ls labels.Labels) *Error {
	return &Error{
		Message: fmt.Sprintf("the series %s holds native histogram samples, which alert rules cannot compare: query histogram_quantile(), histogram_count() or histogram_sum() of it instead", ls),
		Err:     ErrHistogram,
	}
}

// pair is a sample as Prometheus writes it: [<unix seconds>, "<value>"].
type pair struct {
	T int64 // milliseconds
	F float64
}

func (p *pair) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil || len(raw) != 2 {
		return errors.New(`a sample must be [<unix time>, "<value>"]`)
	}
	t, err := parseTimestamp(raw[0])
	if err != nil {
		return err
	}
	f, err := parseValue(raw[1])
	if err != nil {
		return err
	}
	*p = pair{T: t, F: f}
	return nil
}

// parseTimestamp reads Unix seconds ("1435781451.781") as milliseconds,
// exactly: the decimal digits are read as digits, since the float64 of
// 1435781451.781 times 1000 is not a whole number. Digits past the
// millisecond round half away from zero; exponent forms go through
// float64.
func parseTimestamp(raw json.RawMessage) (int64, error) {
	var n json.Number
	// json.Number takes a quoted number too; Prometheus never quotes a
	// timestamp, so a string here is not its answer.
	if err := json.Unmarshal(raw, &n); err != nil || n == "" || raw[0] == '"' {
		return 0, fmt.Errorf("a timestamp must be a number of seconds, not %s", clip(string(raw)))
	}
	s := n.String()
	if strings.ContainsAny(s, "eE") {
		f, err := strconv.ParseFloat(s, 64)
		ms := math.Round(f * 1000)
		if err != nil || math.Abs(ms) > 1<<62 {
			return 0, fmt.Errorf("timestamp %s is out of range", s)
		}
		return int64(ms), nil
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	whole, frac, _ := strings.Cut(s, ".")
	sec, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || sec > math.MaxInt64/1000-1 {
		return 0, fmt.Errorf("timestamp %s is out of range", n)
	}
	frac += "0000"                              // at least four digits: three to keep, one to round by
	ms, _ := strconv.ParseInt(frac[:3], 10, 64) // digits, as json.Number guarantees
	if frac[3] >= '5' {
		ms++
	}
	ms += sec * 1000
	if neg {
		ms = -ms
	}
	return ms, nil
}

// parseValue reads a sample value: a string as Prometheus writes it,
// with NaN and ±Inf spelled out, or a bare number from a lax server.
func parseValue(raw json.RawMessage) (float64, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		var n json.Number
		if json.Unmarshal(raw, &n) != nil {
			return 0, fmt.Errorf(`a sample value must be a string such as "1.5" or "NaN", not %s`, clip(string(raw)))
		}
		s = n.String()
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("sample value %q is not a number", clip(s))
	}
	return f, nil
}

func malformed(status int, format string, args ...any) *Error {
	return &Error{Status: status, Message: "the answer is not a valid Prometheus query result: " + fmt.Sprintf(format, args...)}
}

// notPrometheus describes an answer that is not the query API's JSON:
// a login page, a proxy's error, the wrong URL.
func notPrometheus(status int, contentType string, body []byte) *Error {
	if contentType == "" {
		contentType = "no content type"
	}
	msg := fmt.Sprintf("the answer is not Prometheus JSON (%s)", contentType)
	if b := excerpt(body); b != "" {
		msg += fmt.Sprintf(", it starts %q", b)
	} else {
		msg += " and empty"
	}
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden:
		msg += ": check the credentials and headers"
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		msg += ": check the URL, the base under which /api/v1/query is served"
	}
	return &Error{Status: status, Message: msg}
}

// excerpt is the start of b fit to quote on one line: valid UTF-8, every
// run of white space and control characters one space, at most
// excerptLen bytes, cut on a rune boundary.
func excerpt(b []byte) string {
	fields := strings.FieldsFunc(strings.ToValidUTF8(string(b[:min(len(b), 4*excerptLen)]), "\uFFFD"), func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	})
	s := strings.Join(fields, " ")
	if len(s) <= excerptLen {
		return s
	}
	cut := excerptLen
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// clip shortens what a parse error quotes from the answer.
func clip(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
