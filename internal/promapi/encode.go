package promapi

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
)

// The encoders below write byte for byte what Prometheus's JSON codec
// (web/api/v1/json_codec.go, util/jsonutil) writes: sample values as
// strings ("NaN", "+Inf", "-Inf" included), timestamps as seconds with
// the milliseconds written out (1435781451.500), label names and values
// with only the escapes JSON requires.

// appendQueryData appends {"resultType":…,"result":…} for v.
func appendQueryData(b []byte, v parser.Value) ([]byte, error) {
	b = append(b, `{"resultType":"`...)
	b = append(b, v.Type()...)
	b = append(b, `","result":`...)
	switch v := v.(type) {
	case promql.Vector:
		b = appendVector(b, v)
	case promql.Matrix:
		b = appendMatrix(b, v)
	case promql.Scalar, promql.String:
		// Their own MarshalJSON is what Prometheus writes.
		j, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		b = append(b, j...)
	default:
		return nil, fmt.Errorf("cannot encode a %T result", v)
	}
	return append(b, '}'), nil
}

// appendVector appends [sample,…]; an empty vector is [].
func appendVector(b []byte, v promql.Vector) []byte {
	b = append(b, '[')
	for i, s := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"metric":`...)
		b = appendLabels(b, s.Metric)
		if s.H == nil {
			b = append(b, `,"value":`...)
			b = appendFPoint(b, promql.FPoint{T: s.T, F: s.F})
		} else {
			b = append(b, `,"histogram":`...)
			b = appendHPoint(b, promql.HPoint{T: s.T, H: s.H})
		}
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendMatrix appends [series,…]; a series has "values" for its float
// points and "histograms" for its histogram points, each only if any.
func appendMatrix(b []byte, m promql.Matrix) []byte {
	b = append(b, '[')
	for i, s := range m {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"metric":`...)
		b = appendLabels(b, s.Metric)
		b = appendPoints(b, "values", s.Floats, appendFPoint)
		b = appendPoints(b, "histograms", s.Histograms, appendHPoint)
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendPoints appends ,"key":[point,…], or nothing for no points.
func appendPoints[P any](b []byte, key string, points []P, appendPoint func([]byte, P) []byte) []byte {
	if len(points) == 0 {
		return b
	}
	b = append(b, `,"`+key+`":[`...)
	for i, p := range points {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendPoint(b, p)
	}
	return append(b, ']')
}

// appendFPoint appends [t,"v"].
func appendFPoint(b []byte, p promql.FPoint) []byte {
	b = append(b, '[')
	b = appendTimestamp(b, p.T)
	b = append(b, ',')
	b = appendFloat(b, p.F)
	return append(b, ']')
}

// appendHPoint appends [t,{histogram}].
func appendHPoint(b []byte, p promql.HPoint) []byte {
	b = append(b, '[')
	b = appendTimestamp(b, p.T)
	b = append(b, ',')
	b = appendHistogram(b, p.H)
	return append(b, ']')
}

// appendLabels appends {"name":"value",…} in the labels' (sorted) order.
func appendLabels(b []byte, ls labels.Labels) []byte {
	b = append(b, '{')
	first := true
	ls.Range(func(l labels.Label) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, l.Name)
		b = append(b, ':')
		b = appendString(b, l.Value)
	})
	return append(b, '}')
}

// appendLabelsList appends [{…},…] for the series endpoint.
func appendLabelsList(b []byte, list []labels.Labels) []byte {
	b = append(b, '[')
	for i, ls := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendLabels(b, ls)
	}
	return append(b, ']')
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaping only what JSON
// requires: quote, backslash and control characters. Unlike
// encoding/json it leaves <, > and & alone, as Prometheus does for labels.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendTimestamp appends milliseconds t as seconds: 1435781451.781,
// 1435781451.050, 1435781451 (no fraction when whole).
func appendTimestamp(b []byte, t int64) []byte {
	if t < 0 {
		b = append(b, '-')
		t = -t
	}
	b = strconv.AppendInt(b, t/1000, 10)
	if frac := t % 1000; frac != 0 {
		b = append(b, '.')
		if frac < 100 {
			b = append(b, '0')
		}
		if frac < 10 {
			b = append(b, '0')
		}
		b = strconv.AppendInt(b, frac, 10)
	}
	return b
}

// appendFloat appends f as a quoted string: shortest form, exponent
// only below 1e-6 or from 1e21 on, "NaN", "+Inf", "-Inf".
func appendFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = append(b, '"')
	b = strconv.AppendFloat(b, f, format, -1, 64)
	return append(b, '"')
}

// appendHistogram appends a native histogram:
//
//	{"count":"42","sum":"34593.34","buckets":[[3,"-0.25","0.25","3"],…]}
//
// A bucket is [boundaries, lower, upper, count], boundaries being 0
// (upper inclusive), 1 (lower inclusive), 2 (neither) or 3 (both).
// Empty buckets are left out, and "buckets" too when all are empty.
func appendHistogram(b []byte, h *histogram.FloatHistogram) []byte {
	b = append(b, `{"count":`...)
	b = appendFloat(b, h.Count)
	b = append(b, `,"sum":`...)
	b = appendFloat(b, h.Sum)
	found := false
	for it := h.AllBucketIterator(); it.Next(); {
		bucket := it.At()
		if bucket.Count == 0 {
			continue
		}
		if found {
			b = append(b, ',')
		} else {
			b = append(b, `,"buckets":[`...)
			found = true
		}
		boundaries := 2
		switch {
		case bucket.LowerInclusive && bucket.UpperInclusive:
			boundaries = 3
		case bucket.LowerInclusive:
			boundaries = 1
		case bucket.UpperInclusive:
			boundaries = 0
		}
		b = append(b, '[')
		b = strconv.AppendInt(b, int64(boundaries), 10)
		b = append(b, ',')
		b = appendFloat(b, bucket.Lower)
		b = append(b, ',')
		b = appendFloat(b, bucket.Upper)
		b = append(b, ',')
		b = appendFloat(b, bucket.Count)
		b = append(b, ']')
	}
	if found {
		b = append(b, ']')
	}
	return append(b, '}')
}
