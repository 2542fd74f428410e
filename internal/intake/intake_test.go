package intake

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tocsinhq/tocsin/internal/alert"
)

// now is when every test body arrives.
var now = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)

// equateEmpty: alert.FromMap returns an empty slice where a literal says nil.
var equateEmpty = cmpopts.EquateEmpty()

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// mk builds the alert a decoder should return; the fingerprint and the
// severity are derived as the decoders derive them.
func mk(labels, annotations map[string]string, startsAt, endsAt time.Time, generatorURL, source string) alert.Alert {
	a := alert.Alert{
		Labels:       alert.FromMap(labels),
		Annotations:  alert.FromMap(annotations),
		StartsAt:     startsAt,
		EndsAt:       endsAt,
		GeneratorURL: generatorURL,
		Source:       source,
	}
	a.Fingerprint = a.Labels.Fingerprint()
	a.Severity = alert.ParseSeverity(a.Labels.Get("severity"))
	return a
}

// refusal is one body a decoder must refuse: want lists every problem, in
// order.
type refusal struct {
	name string
	body string
	want []prob
}

// prob is an expected problem: its field, and a part of its message.
type prob struct {
	field, message string
}

func checkRefusal(t *testing.T, err error, want []prob) {
	t.Helper()
	if err == nil {
		t.Fatal("accepted, want a refusal")
	}
	if !errors.Is(err, alert.ErrInvalid) {
		t.Errorf("errors.Is(%v, alert.ErrInvalid) = false", err)
	}
	var ve *alert.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %T is not an *alert.ValidationError", err)
	}
	var wantFields, gotFields []string
	for _, w := range want {
		wantFields = append(wantFields, w.field)
	}
	for _, p := range ve.Problems {
		gotFields = append(gotFields, p.Field)
	}
	if diff := cmp.Diff(wantFields, gotFields); diff != "" {
		t.Fatalf("problem fields differ (-want +got):\n%s\nproblems: %v", diff, err)
	}
	for i, w := range want {
		if !strings.Contains(ve.Problems[i].Message, w.message) {
			t.Errorf("problem %d, %s: %q does not say %q", i, w.field, ve.Problems[i].Message, w.message)
		}
	}
}

// checkAlerts holds for every alert any decoder accepts.
func checkAlerts(t *testing.T, alerts []alert.Alert) {
	t.Helper()
	for i, a := range alerts {
		if len(a.Labels) == 0 {
			t.Errorf("alert %d has no labels", i)
		}
		if a.Fingerprint != a.Labels.Fingerprint() {
			t.Errorf("alert %d: fingerprint %s, labels say %s", i, a.Fingerprint, a.Labels.Fingerprint())
		}
		var errs alert.ValidationError
		a.Validate("", &errs)
		if len(errs.Problems) > 0 {
			t.Errorf("alert %d does not validate: %v", i, &errs)
		}
		if a.StartsAt.IsZero() {
			t.Errorf("alert %d has no start", i)
		}
		if a.Source == "" {
			t.Errorf("alert %d has no source", i)
		}
	}
}

// checkDeterministic decodes data twice and compares.
func checkDeterministic[T any](t *testing.T, decode func([]byte, time.Time) (T, error), data []byte) (T, error) {
	t.Helper()
	got, err := decode(data, now)
	again, err2 := decode(data, now)
	if diff := cmp.Diff(got, again); diff != "" {
		t.Fatalf("two decodes differ:\n%s", diff)
	}
	if (err == nil) != (err2 == nil) || err != nil && err.Error() != err2.Error() {
		t.Fatalf("two decodes fail differently: %v / %v", err, err2)
	}
	if err != nil {
		var ve *alert.ValidationError
		if !errors.As(err, &ve) || len(ve.Problems) == 0 || !errors.Is(err, alert.ErrInvalid) {
			t.Fatalf("refusal %#v is not an *alert.ValidationError with problems", err)
		}
	}
	return got, err
}

// TestShapesMatchStructs keeps the shapes that name wrong types in step
// with the structs encoding/json decodes into.
func TestShapesMatchStructs(t *testing.T) {
	for _, tt := range []struct {
		name  string
		shape *shape
		typ   reflect.Type
	}{
		{"postable", postableShape, reflect.TypeFor[[]postableAlert]()},
		{"webhook", webhookShape, reflect.TypeFor[webhookBody]()},
		{"grafana", grafanaShape, reflect.TypeFor[grafanaBody]()},
		{"native", nativeShape, reflect.TypeFor[[]nativeAlert]()},
		{"events", eventShape, reflect.TypeFor[[]rawEvent]()},
	} {
		t.Run(tt.name, func(t *testing.T) { checkShape(t, tt.shape, tt.typ, "$") })
	}
}

func checkShape(t *testing.T, s *shape, typ reflect.Type, path string) {
	t.Helper()
	if s.want == "" {
		t.Errorf("%s: shape says nothing for its problems", path)
	}
	switch s.kind {
	case kindString:
		if typ.Kind() != reflect.String {
			t.Errorf("%s: shape string, Go %s", path, typ)
		}
	case kindUint:
		if typ.Kind() != reflect.Uint64 {
			t.Errorf("%s: shape uint, Go %s", path, typ)
		}
	case kindFloat:
		if typ.Kind() != reflect.Float64 {
			t.Errorf("%s: shape float, Go %s", path, typ)
		}
	case kindTime, kindContent:
		if typ != reflect.TypeFor[[]byte]() && typ.Name() != "RawMessage" {
			t.Errorf("%s: shape raw, Go %s", path, typ)
		}
	case kindMap:
		if typ.Kind() != reflect.Map {
			t.Fatalf("%s: shape map, Go %s", path, typ)
		}
		checkShape(t, s.elem, typ.Elem(), path+".*")
	case kindArray, kindOneOrMany:
		if typ.Kind() != reflect.Slice {
			t.Fatalf("%s: shape array, Go %s", path, typ)
		}
		checkShape(t, s.elem, typ.Elem(), path+"[]")
	case kindObject:
		if typ.Kind() != reflect.Struct {
			t.Fatalf("%s: shape object, Go %s", path, typ)
		}
		fields := map[string]reflect.Type{}
		for _, f := range reflect.VisibleFields(typ) {
			if tag, ok := f.Tag.Lookup("json"); ok {
				fields[strings.Split(tag, ",")[0]] = f.Type
			}
		}
		var names []string
		for _, f := range s.fields {
			names = append(names, f.name)
			typ, ok := fields[f.name]
			if !ok {
				t.Errorf("%s.%s: in the shape, not in the struct", path, f.name)
				continue
			}
			checkShape(t, f.shape, typ, path+"."+f.name)
		}
		for name := range fields {
			if !slices.Contains(names, name) {
				t.Errorf("%s.%s: in the struct, not in the shape", path, name)
			}
		}
		if s.strict && s.noun == "" {
			t.Errorf("%s: strict object without a noun for its unknown-field message", path)
		}
	default:
		t.Errorf("%s: unexpected kind %d", path, s.kind)
	}
}

func TestPathAt(t *testing.T) {
	body := `[{"labels":{"a":"1","b.c":"2"}},{"annotations":{"x":[1,{"y":"z"}]}}]`
	for _, tt := range []struct {
		at   string // the first occurrence of this text
		want string
	}{
		{`[{"labels"`, ""},
		{`{"labels"`, "[0]"},
		{`"labels"`, "[0].labels"},
		{`"1"`, "[0].labels.a"},
		{`"2"`, `[0].labels["b.c"]`},
		{`"annotations"`, "[1].annotations"},
		{`{"y"`, "[1].annotations.x[1]"},
		{`"z"`, "[1].annotations.x[1].y"},
	} {
		at := strings.Index(body, tt.at)
		if got := pathAt([]byte(body), int64(at)); got != tt.want {
			t.Errorf("pathAt(%q) = %q, want %q", tt.at, got, tt.want)
		}
	}
}

func TestKeyPath(t *testing.T) {
	for key, want := range map[string]string{
		"severity":           "x.severity",
		"中文":                 "x.中文",
		"kubernetes.io/name": `x["kubernetes.io/name"]`,
		"":                   `x[""]`,
		"a b":                `x["a b"]`,
		"q\"":                `x["q\""]`,
	} {
		if got := keyPath("x", key); got != want {
			t.Errorf("keyPath(%q) = %s, want %s", key, got, want)
		}
	}
	if got := keyPath("", "labels"); got != "labels" {
		t.Errorf("keyPath at the top = %q", got)
	}
}

func TestTooManyProblems(t *testing.T) {
	body := "[" + strings.Repeat(`{"labels":{}},`, maxProblems+49) + `{"labels":{}}]`
	_, err := DecodePostableAlerts([]byte(body), now)
	var ve *alert.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v", err)
	}
	if len(ve.Problems) != maxProblems+1 {
		t.Fatalf("%d problems, want %d and a count of the rest", len(ve.Problems), maxProblems+1)
	}
	if last := ve.Problems[maxProblems]; last.Message != "and at least 50 more problems not listed" {
		t.Errorf("last problem = %+v", last)
	}
}
