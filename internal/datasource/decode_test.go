package datasource

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/prometheus/promql"
)

// Answers shaped as in Prometheus's HTTP API documentation
// (docs/querying/api.md), for the decoder's tests and the fuzz corpus.
const (
	docVector = `{
   "status" : "success",
   "data" : {
      "resultType" : "vector",
      "result" : [
         {
            "metric" : {
               "__name__" : "up",
               "job" : "prometheus",
               "instance" : "localhost:9090"
            },
            "value": [ 1435781451.781, "1" ]
         },
         {
            "metric" : {
               "__name__" : "up",
               "job" : "node",
               "instance" : "localhost:9100"
            },
            "value" : [ 1435781451.781, "0" ]
         }
      ]
   }
}`
	docMatrix = `{
   "status" : "success",
   "data" : {
      "resultType" : "matrix",
      "result" : [
         {
            "metric" : {
               "__name__" : "up",
               "job" : "prometheus",
               "instance" : "localhost:9090"
            },
            "values" : [
               [ 1435781430.781, "1" ],
               [ 1435781445.781, "1" ],
               [ 1435781460.781, "1" ]
            ]
         },
         {
            "metric" : {
               "__name__" : "up",
               "job" : "node",
               "instance" : "localhost:9091"
            },
            "values" : [
               [ 1435781430.781, "0" ],
               [ 1435781445.781, "0" ],
               [ 1435781460.781, "1" ]
            ]
         }
      ]
   }
}`
	docScalar    = `{"status":"success","data":{"resultType":"scalar","result":[1435781451.781,"+Inf"]}}`
	docString    = `{"status":"success","data":{"resultType":"string","result":[1435781451.781,"hello"]}}`
	docError     = `{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:5: parse error: unclosed left parenthesis"}`
	docHistogram = `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"rpc_seconds"},"histogram":[1435781451.781,{"count":"10","sum":"3.5","buckets":[[0,"-0.25","-0.125","1"],[0,"0.125","0.25","9"]]}]}]}}`
	docWarnings  = `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1435781451,"NaN"]}]},"warnings":["PromQL info: metric might not be a counter"],"infos":["x"]}`
)

func TestDecodeDocumentedAnswers(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		want []string
	}{
		{"vector", docVector, []string{
			`{__name__="up", instance="localhost:9090", job="prometheus"} @1435781451781 = 1`,
			`{__name__="up", instance="localhost:9100", job="node"} @1435781451781 = 0`,
		}},
		{"matrix", docMatrix, []string{
			`{__name__="up", instance="localhost:9090", job="prometheus"} [1435781430781=1 1435781445781=1 1435781460781=1] histograms=0`,
			`{__name__="up", instance="localhost:9091", job="node"} [1435781430781=0 1435781445781=0 1435781460781=1] histograms=0`,
		}},
		{"scalar", docScalar, []string{"scalar: +Inf @[1435781451781]"}},
		{"string", docString, []string{"hello @1435781451781"}},
		{"warnings", docWarnings, []string{"{} @1435781451000 = NaN"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := decodeAnswer(http.StatusOK, "application/json", []byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, render(v)); diff != "" {
				t.Errorf("decoded (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	_, err := decodeAnswer(http.StatusBadRequest, "application/json", []byte(docError))
	want := &Error{Status: 400, Type: "bad_data", Message: `invalid parameter "query": 1:5: parse error: unclosed left parenthesis`}
	if diff := cmp.Diff(want, err); diff != "" {
		t.Errorf("error (-want +got):\n%s", diff)
	}
	_, err = decodeAnswer(http.StatusOK, "application/json", []byte(docHistogram))
	if !errors.Is(err, ErrHistogram) || !strings.Contains(err.Error(), `{__name__="rpc_seconds"}`) {
		t.Errorf("histogram answer: %v, want ErrHistogram naming the series", err)
	}
}

// render shows any decoded value as comparable strings.
func render(v value) []string {
	switch v := v.(type) {
	case promql.Vector:
		return show(v)
	case promql.Matrix:
		return showMatrix(v)
	case promql.Scalar:
		return []string{fmt.Sprintf("scalar: %s @[%d]", strconv.FormatFloat(v.V, 'g', -1, 64), v.T)}
	case promql.String:
		return []string{fmt.Sprintf("%s @%d", v.V, v.T)}
	}
	return []string{fmt.Sprintf("unexpected %T", v)}
}

func TestParseTimestamp(t *testing.T) {
	for in, want := range map[string]int64{
		`1435781451.781`:      1435781451781,
		`1435781451`:          1435781451000,
		`1435781451.7`:        1435781451700,
		`1435781451.7814`:     1435781451781,
		`1435781451.7815`:     1435781451782, // half rounds away from zero
		`1435781451.9996`:     1435781452000,
		`0.001`:               1,
		`-1.5`:                -1500,
		`-0.0015`:             -2,
		`1.435781451781e9`:    1435781451781,
		`1435781451781e-3`:    1435781451781,
		`9223372036854774.99`: 9223372036854774990,
	} {
		got, err := parseTimestamp(json.RawMessage(in))
		if err != nil || got != want {
			t.Errorf("parseTimestamp(%s) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{`"1435781451"`, `null`, `true`, `9223372036854775.807`, `1e300`, `-1e300`} {
		if got, err := parseTimestamp(json.RawMessage(in)); err == nil {
			t.Errorf("parseTimestamp(%s) = %d, want an error", in, got)
		}
	}
}

func TestParseValue(t *testing.T) {
	for in, want := range map[string]float64{
		`"1"`: 1, `"-0.25"`: -0.25, `"1e-3"`: 0.001,
		`"+Inf"`: math.Inf(1), `"-Inf"`: math.Inf(-1), `"Inf"`: math.Inf(1),
		`"1e999"`: math.Inf(1), // out of range is infinite, as Prometheus would print it
		`2.5`:     2.5,         // a bare number, from a lax server
	} {
		got, err := parseValue(json.RawMessage(in))
		if err != nil || got != want {
			t.Errorf("parseValue(%s) = %v, %v; want %v", in, got, err, want)
		}
	}
	if got, err := parseValue(json.RawMessage(`"NaN"`)); err != nil || !math.IsNaN(got) {
		t.Errorf(`parseValue("NaN") = %v, %v`, got, err)
	}
	for _, in := range []string{`"one"`, `""`, `null`, `[1]`, `"1 "`} {
		if got, err := parseValue(json.RawMessage(in)); err == nil {
			t.Errorf("parseValue(%s) = %v, want an error", in, got)
		}
	}
}

// FuzzDecodeAnswer checks that no answer makes the decoder panic, that
// every failure is an *Error carrying the HTTP status in valid UTF-8,
// and that what it accepts survives Prometheus's own encoding (the
// MarshalJSON of promql's values, which web/api/v1 mirrors) unchanged.
func FuzzDecodeAnswer(f *testing.F) {
	for _, body := range []string{docVector, docMatrix, docScalar, docString, docError, docHistogram, docWarnings,
		`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"b"},"value":[-1.0015,"-Inf"]}]}}`,
		`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1e3,"NaN"]],"histograms":[]}]}}`,
		`{"status":"error","errorType":"422","error":"cannot find timeseries"}`,
		"<html><body>Sign in</body></html>",
		"",
	} {
		f.Add(200, body)
	}
	f.Add(502, "Bad Gateway\n")
	f.Fuzz(func(t *testing.T, status int, body string) {
		v, err := decodeAnswer(status, "application/json", []byte(body))
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T) is not an *Error", err, err)
			}
			if e.Status != status {
				t.Errorf("error status %d, want %d", e.Status, status)
			}
			if !utf8.ValidString(e.Error()) {
				t.Errorf("error %q is not valid UTF-8", e.Error())
			}
			return
		}
		if beyondFloatTimestamps(v) {
			return // float64(T)/1000 no longer holds the milliseconds
		}
		again, err := json.Marshal(map[string]any{"status": "success", "data": map[string]any{"resultType": v.Type(), "result": v}})
		if err != nil {
			t.Fatal(err)
		}
		v2, err := decodeAnswer(200, "application/json", again)
		if err != nil {
			t.Fatalf("re-encoded answer %s: %v", again, err)
		}
		if diff := cmp.Diff(render(v), render(v2)); diff != "" {
			t.Errorf("re-encoded answer decodes differently (-first +second):\n%s\n%s", diff, again)
		}
	})
}

// beyondFloatTimestamps reports whether a timestamp of v is so far from
// 1970 (beyond the year 2286) that Prometheus's float seconds lose its
// milliseconds.
func beyondFloatTimestamps(v value) bool {
	far := func(ms int64) bool { return ms > 1e13 || ms < -1e13 }
	switch v := v.(type) {
	case promql.Vector:
		for _, s := range v {
			if far(s.T) {
				return true
			}
		}
	case promql.Matrix:
		for _, s := range v {
			for _, p := range s.Floats {
				if far(p.T) {
					return true
				}
			}
		}
	case promql.Scalar:
		return far(v.T)
	case promql.String:
		return far(v.T)
	}
	return false
}
