package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/channel"
	"github.com/tocsinhq/tocsin/internal/contact"
	"github.com/tocsinhq/tocsin/internal/datasource"
	"github.com/tocsinhq/tocsin/internal/intake"
	"github.com/tocsinhq/tocsin/internal/route"
	"github.com/tocsinhq/tocsin/internal/rule"
	"github.com/tocsinhq/tocsin/internal/ruler"
	"github.com/tocsinhq/tocsin/internal/store"
)

const openAPIPath = "../../api/openapi.yaml"

// catchAlls are the method-less patterns that answer what no route matched
// (404 or 405); they are described in the document's text, not as paths.
var catchAlls = map[string]bool{"/api/": true, "/hooks/": true}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// loadOpenAPI reads api/openapi.yaml as generic YAML.
func loadOpenAPI(t *testing.T) map[string]any {
	t.Helper()
	data, err := os.ReadFile(openAPIPath)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", openAPIPath, err)
	}
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.1.") {
		t.Fatalf("%s: openapi is %q, want 3.1.x", openAPIPath, v)
	}
	return doc
}

// documentedOps returns "METHOD /path" for every operation in the document.
func documentedOps(t *testing.T, doc map[string]any) map[string]bool {
	t.Helper()
	paths, ok := doc["paths"].(map[string]any)
	if !ok {
		t.Fatalf("%s has no paths", openAPIPath)
	}
	ops := map[string]bool{}
	for path, item := range paths {
		item, ok := item.(map[string]any)
		if !ok {
			t.Errorf("%s: path %s is not an object", openAPIPath, path)
			continue
		}
		for key := range item {
			if slices.Contains(httpMethods, key) {
				ops[strings.ToUpper(key)+" "+path] = true
			}
		}
	}
	return ops
}

// registration is one route pattern the package registers, and where.
// Which tokens it takes, guardOf asks the server.
type registration struct {
	pattern string
	pos     string
}

// registeredRoutes reads the package's source for every route it registers:
// s.mux.Handle(…), s.mux.HandleFunc(…) and s.handle(…) with a literal
// pattern. Reading the source, rather than a list kept by hand, means a new
// route cannot be added without the test seeing it; a registration whose
// pattern is not a literal fails the test, since it cannot be read.
func registeredRoutes(t *testing.T) []registration {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var out []registration
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok || !isRegistration(call) || len(call.Args) == 0 {
					return true
				}
				pos := fset.Position(call.Pos()).String()
				lit, ok := call.Args[0].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					// The wrappers s.handle and s.handleIntake pass their
					// own parameter on.
					if fn.Name.Name != "handle" && fn.Name.Name != "handleIntake" {
						t.Errorf("%s: a route is registered with a pattern that is not a string literal; this test cannot read it", pos)
					}
					return true
				}
				pattern, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatalf("%s: %v", pos, err)
				}
				out = append(out, registration{pattern: pattern, pos: pos})
				return true
			})
		}
	}
	if len(out) == 0 {
		t.Fatal("found no route registrations in the package's source")
	}
	return out
}

// isRegistration reports whether call is <x>.mux.Handle(…),
// <x>.mux.HandleFunc(…), <x>.handle(…) or <x>.handleIntake(…).
func isRegistration(call *ast.CallExpr) bool {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	switch sel.Sel.Name {
	case "Handle", "HandleFunc":
		recv, ok := sel.X.(*ast.SelectorExpr)
		return ok && recv.Sel.Name == "mux"
	case "handle", "handleIntake":
		_, ok := sel.X.(*ast.Ident)
		return ok
	}
	return false
}

var wildcard = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)(\.\.\.)?\}`)

// docPath turns a ServeMux path pattern into an OpenAPI path template:
// "{$}" goes, "{rest...}" becomes "{rest}".
func docPath(p string) string {
	return wildcard.ReplaceAllString(strings.ReplaceAll(p, "{$}", ""), "{$1}")
}

// samplePath fills a path template's parameters with sample values.
func samplePath(p string) string {
	return wildcard.ReplaceAllString(strings.ReplaceAll(p, "{$}", ""), "sample-$1")
}

// routeOf answers which registered pattern the server's mux picks for a
// request.
func routeOf(s *Server, method, path string) string {
	_, pattern := s.mux.Handler(httptest.NewRequest(method, path, nil))
	return pattern
}

// probeToken is the admin token of the server guardOf asks.
const probeToken = "tsn_probe"

// newProbeServer returns a server for guardOf: it knows the admin token
// and has no store, so a request that gets past a route's guard fails
// there (a handler reaching for the store panics into a 500, which is
// logged to nowhere) or is refused for its empty body; never with 401.
func newProbeServer() *Server {
	return New(Options{AdminTokenHash: HashToken(probeToken), Logger: slog.New(slog.DiscardHandler)})
}

// guardOf asks s which token the route of method and path (a path
// template) takes, rather than reading how the route is registered: the
// metrics routes guard their own handlers. A guarded route answers 401 to
// a request without a token. The admin token as ?token= gets past the
// guard of an intake route only: the other routes take it in the header
// alone, and answer 401.
func guardOf(s *Server, method, path string) (guarded, intake bool) {
	status := func(target string) int {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest(method, target, nil))
		return w.Code
	}
	p := samplePath(path)
	guarded = status(p) == http.StatusUnauthorized
	intake = guarded && status(p+"?token="+probeToken) != http.StatusUnauthorized
	return guarded, intake
}

// TestOpenAPIDocumentsEveryRoute checks api/openapi.yaml against the routes
// the server registers, both ways: every route is documented with its
// method and path template, and every documented operation is a route.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	doc := loadOpenAPI(t)
	documented := documentedOps(t, doc)
	s := New(Options{})

	registered := map[string]bool{}
	for _, r := range registeredRoutes(t) {
		method, path, hasMethod := strings.Cut(r.pattern, " ")
		if !hasMethod {
			if !catchAlls[r.pattern] {
				t.Errorf("%s: route %q has no method: give it one and document it in api/openapi.yaml", r.pos, r.pattern)
			}
			continue
		}
		if !strings.HasPrefix(path, "/") {
			t.Errorf("%s: route %q names a host; this test does not know how to document that", r.pos, r.pattern)
			continue
		}
		// The source and the mux must agree, or this test reads the
		// wrong list (a registration in a function never called, say).
		if got := routeOf(s, method, samplePath(path)); got != r.pattern {
			t.Errorf("%s: route %q is in the source, but the server routes %s %s to %q", r.pos, r.pattern, method, samplePath(path), got)
		}
		op := method + " " + docPath(path)
		registered[op] = true
		if !documented[op] {
			t.Errorf("route %q (%s) is not documented in api/openapi.yaml: add paths.%s.%s", r.pattern, r.pos, docPath(path), strings.ToLower(method))
		}
	}

	for _, op := range slices.Sorted(maps.Keys(documented)) {
		method, path, _ := strings.Cut(op, " ")
		got := routeOf(s, method, samplePath(path))
		switch {
		case got == op && registered[op]:
		case got == op:
			t.Errorf("%s is a route, but registeredRoutes did not find it in the source: teach it how %s is registered", op, op)
		case got == "" || catchAlls[got]:
			t.Errorf("api/openapi.yaml documents %s, but the server has no such route (%s %s falls to %q)", op, method, samplePath(path), got)
		default:
			t.Errorf("api/openapi.yaml documents %s, but the server routes it to %q: method and path template must match the route exactly", op, got)
		}
	}
}

// TestOpenAPIShape checks what a reader of api/openapi.yaml relies on
// beyond the route list: every $ref resolves, every path parameter is
// declared, and a token is required exactly where the server asks for one
// (which token, TestOpenAPIIntakeSecurity checks).
func TestOpenAPIShape(t *testing.T) {
	doc := loadOpenAPI(t)
	s := newProbeServer()

	var walk func(where string, v any)
	walk = func(where string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				if _, err := resolve(doc, ref); err != "" {
					t.Errorf("%s: $ref %s: %s", where, ref, err)
				}
			}
			for k, child := range v {
				walk(where+"."+k, child)
			}
		case []any:
			for i, child := range v {
				walk(where+"["+strconv.Itoa(i)+"]", child)
			}
		}
	}
	walk("", doc)

	if !reflect.DeepEqual(doc["security"], []any{map[string]any{"adminToken": []any{}}}) {
		t.Errorf("top-level security is %v, want the adminToken scheme", doc["security"])
	}
	for path, item := range doc["paths"].(map[string]any) {
		item := item.(map[string]any)
		for _, method := range httpMethods {
			op, ok := item[method].(map[string]any)
			if !ok {
				continue
			}
			where := strings.ToUpper(method) + " " + path
			security, overrides := op["security"]
			open := overrides && reflect.DeepEqual(security, []any{})
			switch guarded, _ := guardOf(s, strings.ToUpper(method), path); {
			case guarded && open:
				t.Errorf("%s: security is [], but the server answers 401 without a token: name the tokens it takes", where)
			case !guarded && !open:
				t.Errorf("%s: security is %v, but the server asks for no token: set security: []", where, security)
			}
			if _, ok := op["responses"].(map[string]any); !ok {
				t.Errorf("%s has no responses", where)
			}
			declared := map[string]bool{}
			for _, list := range []any{item["parameters"], op["parameters"]} {
				params, _ := list.([]any)
				for _, p := range params {
					p, err := resolveParam(doc, p)
					if err != "" {
						t.Errorf("%s: %s", where, err)
						continue
					}
					if p["in"] == "path" {
						declared[p["name"].(string)] = true
					}
				}
			}
			for _, m := range wildcard.FindAllStringSubmatch(path, -1) {
				if !declared[m[1]] {
					t.Errorf("%s: path parameter {%s} is not declared", where, m[1])
				}
				delete(declared, m[1])
			}
			for name := range declared {
				t.Errorf("%s declares path parameter %q, which is not in the path", where, name)
			}
		}
	}
}

func resolveParam(doc map[string]any, p any) (map[string]any, string) {
	m, ok := p.(map[string]any)
	if !ok {
		return nil, "a parameter is not an object"
	}
	if ref, ok := m["$ref"].(string); ok {
		v, err := resolve(doc, ref)
		if err != "" {
			return nil, "parameter " + ref + ": " + err
		}
		if m, ok = v.(map[string]any); !ok {
			return nil, ref + " is not an object"
		}
	}
	return m, ""
}

// resolve follows a local $ref ("#/components/schemas/Channel").
func resolve(doc map[string]any, ref string) (any, string) {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, "only local references are used"
	}
	var v any = doc
	for _, part := range strings.Split(rest, "/") {
		part = strings.NewReplacer("~1", "/", "~0", "~").Replace(part)
		m, ok := v.(map[string]any)
		if !ok {
			return nil, "does not resolve"
		}
		if v, ok = m[part]; !ok {
			return nil, "does not resolve"
		}
	}
	return v, ""
}

// schemaProps returns the property names of a component schema.
func schemaProps(t *testing.T, doc map[string]any, name string) []string {
	t.Helper()
	v, err := resolve(doc, "#/components/schemas/"+name)
	if err != "" {
		t.Fatalf("schema %s: %s", name, err)
	}
	props, _ := v.(map[string]any)["properties"].(map[string]any)
	return slices.Sorted(maps.Keys(props))
}

// allProps returns the property names of a component schema together with
// those of the schemas it extends with allOf.
func allProps(t *testing.T, doc map[string]any, name string) []string {
	t.Helper()
	v, err := resolve(doc, "#/components/schemas/"+name)
	if err != "" {
		t.Fatalf("schema %s: %s", name, err)
	}
	var out []string
	var collect func(where string, v any)
	collect = func(where string, v any) {
		m, _ := v.(map[string]any)
		if ref, ok := m["$ref"].(string); ok {
			r, err := resolve(doc, ref)
			if err != "" {
				t.Fatalf("%s: $ref %s: %s", where, ref, err)
			}
			collect(ref, r)
			return
		}
		props, _ := m["properties"].(map[string]any)
		out = append(out, slices.Collect(maps.Keys(props))...)
		parts, _ := m["allOf"].([]any)
		for _, part := range parts {
			collect(where, part)
		}
	}
	collect(name, v)
	slices.Sort(out)
	return slices.Compact(out)
}

// decoderReads checks that an intake decoder reads every property a
// schema documents. Each property in turn is sent, in the body that body
// builds around it, as [[]]: a value of a JSON type no field takes. A
// decoder that reads the field refuses it as a wrong type at path(name) or
// inside it;
// one that does not ignores it, or refuses it as unknown. A field named
// "bogus" must come out unread, or this check could not fail.
func decoderReads(t *testing.T, schema string, props []string, decode func([]byte) error, body func(name string) any, path func(name string) string) {
	t.Helper()
	reads := func(name string) bool {
		t.Helper()
		data, err := json.Marshal(body(name))
		if err != nil {
			t.Fatal(err)
		}
		err = decode(data)
		var invalid *alert.ValidationError
		if err != nil && !errors.As(err, &invalid) {
			t.Fatalf("%s: decoding %s: %v", schema, data, err)
		}
		if invalid == nil {
			return false
		}
		at := path(name)
		for _, p := range invalid.Problems {
			// An array's wrong element is named by its index: alerts[0].
			inside := p.Field == at || strings.HasPrefix(p.Field, at+"[") || strings.HasPrefix(p.Field, at+".")
			if inside && !strings.HasPrefix(p.Message, "unknown field") {
				return true
			}
		}
		return false
	}
	if len(props) == 0 {
		t.Errorf("%s documents no properties", schema)
	}
	for _, name := range props {
		if !reads(name) {
			t.Errorf("%s documents %q, which the decoder does not read", schema, name)
		}
	}
	if reads("bogus") {
		t.Errorf("%s: the decoder reads a field named bogus: the check above proves nothing", schema)
	}
}

// decoderKnows checks that a strict decoder knows every property a schema
// documents: each in turn, sent as null in the body body builds around
// it, must not be refused as an unknown field. Null fits a field of any
// type, so any other problem is the body's, not the schema's. A field
// named "bogus" must be refused, or this check could not fail.
func decoderKnows(t *testing.T, schema string, props []string, decode func([]byte) error, body func(name string) any) {
	t.Helper()
	knows := func(name string) bool {
		t.Helper()
		data, err := json.Marshal(body(name))
		if err != nil {
			t.Fatal(err)
		}
		err = decode(data)
		return err == nil || !strings.Contains(err.Error(), "unknown field")
	}
	if len(props) == 0 {
		t.Errorf("%s documents no properties", schema)
	}
	for _, name := range props {
		if !knows(name) {
			t.Errorf("%s documents %q, which the decoder refuses as an unknown field", schema, name)
		}
	}
	if knows("bogus") {
		t.Errorf("%s: the decoder took a field named bogus: the check above proves nothing", schema)
	}
}

// keysAt returns the member names of the JSON object at path in v's JSON;
// a string in path names an object's member, an int an array's element.
func keysAt(t *testing.T, v any, path ...any) []string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var at any
	if err := json.Unmarshal(data, &at); err != nil {
		t.Fatal(err)
	}
	for _, step := range path {
		switch step := step.(type) {
		case string:
			m, _ := at.(map[string]any)
			at = m[step]
		case int:
			a, _ := at.([]any)
			if step >= len(a) {
				t.Fatalf("%s has no element %d at %v", data, step, path)
			}
			at = a[step]
		}
	}
	m, ok := at.(map[string]any)
	if !ok {
		t.Fatalf("%s has no object at %v", data, path)
	}
	return slices.Sorted(maps.Keys(m))
}

// nest returns the JSON body that holds the member name, set to null, at
// path (as keysAt reads it; an int stands for an array's first element).
func nest(path []any, name string) any {
	var v any = map[string]any{name: nil}
	for i := len(path) - 1; i >= 0; i-- {
		if key, ok := path[i].(string); ok {
			v = map[string]any{key: v}
		} else {
			v = []any{v}
		}
	}
	return v
}

// jsonFields returns the JSON names of a struct type's fields. The fields
// of an embedded struct without a JSON name count as the outer type's, as
// encoding/json has them.
func jsonFields(typ reflect.Type) []string {
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	var out []string
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			out = append(out, jsonFields(ft)...)
			continue
		}
		if !f.IsExported() {
			continue
		}
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// marshalledKeys returns the top-level keys of v as JSON.
func marshalledKeys(t *testing.T, v any) []string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return slices.Sorted(maps.Keys(m))
}

// TestOpenAPISchemasMatchJSON checks the documented properties against the
// JSON the code reads and writes, so a field added to a type shows up here
// until it is documented.
func TestOpenAPISchemasMatchJSON(t *testing.T) {
	doc := loadOpenAPI(t)
	same := func(what string, documented, code []string) {
		t.Helper()
		if !slices.Equal(documented, code) {
			t.Errorf("%s: api/openapi.yaml has %v, the code has %v", what, documented, code)
		}
	}

	common := schemaProps(t, doc, "ChannelCommon")
	same("channel as answered", common, marshalledKeys(t, channel.Channel{Timezone: "UTC", Settings: &channel.Webhook{}}))
	same("channel as accepted", common, jsonFields(reflect.TypeFor[channel.Input]()))
	same("budget", schemaProps(t, doc, "Budget"), jsonFields(reflect.TypeFor[channel.Budget]()))
	same("daily_report", schemaProps(t, doc, "DailyReport"), jsonFields(reflect.TypeFor[channel.DailyReport]()))

	// The channel schema is a oneOf discriminated by kind, one variant
	// per kind this build accepts, each with that kind's settings.
	chSchema, _ := resolve(doc, "#/components/schemas/Channel")
	disc, _ := chSchema.(map[string]any)["discriminator"].(map[string]any)
	if disc["propertyName"] != "kind" {
		t.Errorf("Channel's discriminator is %v, want propertyName kind", disc)
	}
	mapping, _ := disc["mapping"].(map[string]any)
	var kinds []string
	for _, k := range channel.Kinds {
		kinds = append(kinds, string(k))
	}
	slices.Sort(kinds)
	same("channel kinds in the discriminator", slices.Sorted(maps.Keys(mapping)), kinds)
	kindEnum, _ := resolve(doc, "#/components/schemas/ChannelKind/enum")
	var enum []string
	for _, k := range kindEnum.([]any) {
		enum = append(enum, k.(string))
	}
	slices.Sort(enum)
	same("ChannelKind enum", enum, kinds)
	for _, k := range channel.Kinds {
		ref, _ := mapping[string(k)].(string)
		variant, err := resolve(doc, ref)
		if err != "" {
			t.Errorf("kind %s maps to %q: %s", k, ref, err)
			continue
		}
		allOf, _ := variant.(map[string]any)["allOf"].([]any)
		if len(allOf) != 2 {
			t.Errorf("%s: want allOf [ChannelCommon, the kind's own part]", ref)
			continue
		}
		own, _ := allOf[1].(map[string]any)["properties"].(map[string]any)
		if c, _ := own["kind"].(map[string]any); c["const"] != string(k) {
			t.Errorf("%s: kind is %v, want const %s", ref, own["kind"], k)
		}
		settingsRef, _ := own["settings"].(map[string]any)["$ref"].(string)
		name := strings.TrimPrefix(settingsRef, "#/components/schemas/")
		settings, err2 := channel.NewSettings(k)
		if err2 != nil {
			t.Fatal(err2)
		}
		same("settings of "+string(k), schemaProps(t, doc, name), jsonFields(reflect.TypeOf(settings)))
	}

	same("contact as answered", schemaProps(t, doc, "Contact"), marshalledKeys(t, contact.Contact{}))
	same("contact as accepted", schemaProps(t, doc, "Contact"), jsonFields(reflect.TypeFor[contact.Input]()))
	same("contact group as answered", schemaProps(t, doc, "ContactGroup"), marshalledKeys(t, contact.Group{}))
	same("contact group as accepted", schemaProps(t, doc, "ContactGroup"), jsonFields(reflect.TypeFor[contact.GroupInput]()))
	// A policy reads and writes one JSON form, every field present.
	same("policy", schemaProps(t, doc, "Policy"), marshalledKeys(t, route.Policy{}))
	same("policy targets", schemaProps(t, doc, "PolicyTargets"), jsonFields(reflect.TypeFor[route.Targets]()))
	windows, err := route.MarshalTimeWindows([]route.TimeWindow{{}})
	if err != nil {
		t.Fatal(err)
	}
	var window []map[string]any
	if err := json.Unmarshal(windows, &window); err != nil {
		t.Fatal(err)
	}
	same("mute time window", schemaProps(t, doc, "TimeWindow"), slices.Sorted(maps.Keys(window[0])))
	same("ingest token", schemaProps(t, doc, "IngestToken"), jsonFields(reflect.TypeFor[ingestToken]()))
	same("ingest token request", schemaProps(t, doc, "IngestTokenRequest"), jsonFields(reflect.TypeFor[ingestTokenInput]()))
	same("event", schemaProps(t, doc, "Event"), marshalledKeys(t, eventJSON{}))
	same("events accepted", schemaProps(t, doc, "EventsAccepted"), jsonFields(reflect.TypeFor[eventsAccepted]()))
	// The intake decoder's fields are its own; every documented one must
	// be one it takes (an unknown one is refused by name).
	decoderKnows(t, "EventInput", schemaProps(t, doc, "EventInput"),
		func(b []byte) error { _, err := intake.DecodeEvents(b, time.Now()); return err },
		func(name string) any { return map[string]any{name: nil} })
	for _, l := range []string{"ChannelList", "ContactList", "ContactGroupList", "PolicyList", "IngestTokenList", "EventList", "AlertList", "DeliveryList", "RuleList", "DatasourceList"} {
		same(l, schemaProps(t, doc, l), jsonFields(reflect.TypeFor[listResponse[any]]()))
	}

	same("alert", schemaProps(t, doc, "Alert"), jsonFields(reflect.TypeFor[alertJSON]()))
	same("timeline entry", schemaProps(t, doc, "TimelineEntry"), jsonFields(reflect.TypeFor[store.TimelineEntry]()))
	same("timeline delivery", schemaProps(t, doc, "TimelineDelivery"), jsonFields(reflect.TypeFor[store.DeliveryRef]()))
	same("alert action", schemaProps(t, doc, "AlertAction"), jsonFields(reflect.TypeFor[alertActionJSON]()))
	same("alerts accepted", schemaProps(t, doc, "Accepted"), jsonFields(reflect.TypeFor[acceptedJSON]()))
	same("notification relayed", schemaProps(t, doc, "Relayed"), jsonFields(reflect.TypeFor[relayJSON]()))
	same("delivery", schemaProps(t, doc, "Delivery"), jsonFields(reflect.TypeFor[deliveryJSON]()))
	// A delivery embeds store.Delivery; what the API writes, every
	// optional field set, is the same list.
	same("delivery as answered", schemaProps(t, doc, "Delivery"), marshalledKeys(t, toDeliveryJSON(&store.Delivery{
		GroupKey: "g", PolicyID: "p", DigestID: "d", LastCode: "c", LastPlatformCode: 1, LastMessage: "m",
	})))
	same("delivery attempt", schemaProps(t, doc, "Attempt"), jsonFields(reflect.TypeFor[store.Attempt]()))
	same("gettable alert", schemaProps(t, doc, "GettableAlert"), jsonFields(reflect.TypeFor[intake.GettableAlert]()))
	same("gettable alert status", schemaProps(t, doc, "AlertmanagerAlertStatus"), jsonFields(reflect.TypeFor[intake.AlertStatus]()))
	same("receiver reference", schemaProps(t, doc, "ReceiverReference"), jsonFields(reflect.TypeFor[intake.ReceiverReference]()))

	// The alert intakes' decoders have their own (unexported) types; every
	// documented field must be one they read.
	now := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	wrong := [][]any{{}}
	decoderReads(t, "PostableAlert", schemaProps(t, doc, "PostableAlert"),
		func(b []byte) error { _, err := intake.DecodePostableAlerts(b, now); return err },
		func(name string) any { return []any{map[string]any{name: wrong}} },
		func(name string) string { return "[0]." + name })
	decoderReads(t, "NativeAlert", allProps(t, doc, "NativeAlert"),
		func(b []byte) error { _, err := intake.DecodeNative(b, now); return err },
		func(name string) any { return map[string]any{name: wrong} },
		func(name string) string { return name })
	for _, hook := range []struct {
		message, alert, version string
		decode                  func([]byte) error
	}{
		{"WebhookMessage", "WebhookAlert", intake.WebhookVersion, func(b []byte) error { _, err := intake.DecodeWebhook(b, now); return err }},
		{"GrafanaMessage", "GrafanaAlert", intake.GrafanaVersion, func(b []byte) error { _, err := intake.DecodeGrafana(b, now); return err }},
	} {
		decoderReads(t, hook.message, schemaProps(t, doc, hook.message), hook.decode,
			func(name string) any { return map[string]any{"version": hook.version, name: wrong} },
			func(name string) string { return name })
		decoderReads(t, hook.alert, allProps(t, doc, hook.alert), hook.decode,
			func(name string) any {
				return map[string]any{"version": hook.version, "alerts": []any{map[string]any{name: wrong}}}
			},
			func(name string) string { return "alerts[0]." + name })
	}

	same("silence as answered", schemaProps(t, doc, "GettableSilence"), marshalledKeys(t, gettable(&route.Silence{}, time.Time{})))
	same("silence as accepted", schemaProps(t, doc, "PostableSilence"), jsonFields(reflect.TypeFor[postableSilence]()))
	m, err := route.NewMatcher(route.MatchEqual, "alertname", "DiskFull")
	if err != nil {
		t.Fatal(err)
	}
	same("silence matcher", schemaProps(t, doc, "SilenceMatcher"), marshalledKeys(t, m))
	same("silence status", schemaProps(t, doc, "SilenceStatus"), jsonFields(reflect.TypeFor[silenceStatus]()))
	same("post silence result", schemaProps(t, doc, "PostSilenceResult"), jsonFields(reflect.TypeFor[postSilenceResponse]()))
	same("alertmanager status", schemaProps(t, doc, "AlertmanagerStatus"), jsonFields(reflect.TypeFor[alertmanagerStatus]()))
	same("cluster status", schemaProps(t, doc, "ClusterStatus"), jsonFields(reflect.TypeFor[clusterStatus]()))
	same("peer status", schemaProps(t, doc, "PeerStatus"), jsonFields(reflect.TypeFor[peerStatus]()))
	same("version info", schemaProps(t, doc, "VersionInfo"), jsonFields(reflect.TypeFor[versionInfo]()))
	same("alertmanager config", schemaProps(t, doc, "AlertmanagerConfig"), jsonFields(reflect.TypeFor[alertmanagerConfig]()))
	same("error body", schemaProps(t, doc, "Error"), jsonFields(reflect.TypeFor[errorBody]()))
	same("problem", schemaProps(t, doc, "Problem"), jsonFields(reflect.TypeFor[problemJSON]()))
	same("test request", schemaProps(t, doc, "TestRequest"), jsonFields(reflect.TypeFor[testRequest]()))
	same("test result", schemaProps(t, doc, "TestResult"), jsonFields(reflect.TypeFor[testResult]()))
	same("test error", schemaProps(t, doc, "TestError"), jsonFields(reflect.TypeFor[testError]()))

	// A rule answers one JSON form, every member present (builder and
	// match null when it has none; a condition's threshold and change
	// when set), with the status the API adds; it is read by the rule's
	// own strict decoder.
	full := rule.Rule{
		Builder: &rule.Builder{Conditions: []rule.Condition{{Filters: []rule.Filter{{}}, Threshold: &rule.Threshold{}, Change: &rule.Change{}}}},
		Match:   &rule.EventMatch{When: []rule.FieldMatch{{Value: "v", Values: []string{"v"}}}},
		Targets: rule.Targets{Policy: "p", Channels: []string{"c"}, ContactGroups: []string{"g"}},
	}
	answered := ruleView{Rule: &full, Status: &ruler.Status{}}
	decodeRule := func(b []byte) error { _, err := rule.Decode(b); return err }
	same("rule as answered", schemaProps(t, doc, "Rule"), marshalledKeys(t, answered))
	// status is the API's, not the rule's: a request may carry it back,
	// and it is ignored.
	decoderKnows(t, "Rule", schemaProps(t, doc, "Rule"), decodeRule,
		func(name string) any { return map[string]any{name: nil} })
	for _, part := range []struct {
		schema string
		path   []any
	}{
		{"RuleBuilder", []any{"builder"}},
		{"RuleCondition", []any{"builder", "conditions", 0}},
		{"RuleFilter", []any{"builder", "conditions", 0, "filters", 0}},
		{"RuleThreshold", []any{"builder", "conditions", 0, "threshold"}},
		{"RuleChange", []any{"builder", "conditions", 0, "change"}},
		{"RuleEventMatch", []any{"match"}},
		{"RuleFieldMatch", []any{"match", "when", 0}},
		{"RuleTargets", []any{"targets"}},
	} {
		props := schemaProps(t, doc, part.schema)
		same(part.schema+" as answered", props, keysAt(t, answered, part.path...))
		decoderKnows(t, part.schema, props, decodeRule, func(name string) any { return nest(part.path, name) })
	}
	same("rule status", schemaProps(t, doc, "RuleStatus"), jsonFields(reflect.TypeFor[ruler.Status]()))
	same("rule preview", schemaProps(t, doc, "RulePreview"), jsonFields(reflect.TypeFor[ruler.Preview]()))
	same("rule preview alert", schemaProps(t, doc, "RulePreviewAlert"), jsonFields(reflect.TypeFor[ruler.PreviewAlert]()))
	same("rule preview series", schemaProps(t, doc, "RulePreviewSeries"), jsonFields(reflect.TypeFor[ruler.PreviewSeries]()))
	same("rule preview period", schemaProps(t, doc, "RulePreviewPeriod"), jsonFields(reflect.TypeFor[ruler.Period]()))
	same("rule import result", schemaProps(t, doc, "RuleImportResult"), jsonFields(reflect.TypeFor[importResult]()))

	same("data source as answered", schemaProps(t, doc, "Datasource"), marshalledKeys(t, datasource.Source{}))
	decoderKnows(t, "Datasource", schemaProps(t, doc, "Datasource"),
		func(b []byte) error { var d datasource.Source; return json.Unmarshal(b, &d) },
		func(name string) any { return map[string]any{name: nil} })
	same("data source test result", schemaProps(t, doc, "DatasourceTestResult"), jsonFields(reflect.TypeFor[testAnswer]()))
}

// TestOpenAPIIntakeSecurity checks that the document says which routes
// take ingest tokens: exactly those the server guards as intake endpoints
// (handleIntake's, and the metrics routes), which take them in the header
// and as ?token=, and the admin token too.
func TestOpenAPIIntakeSecurity(t *testing.T) {
	doc := loadOpenAPI(t)
	paths := doc["paths"].(map[string]any)
	s := newProbeServer()
	want := []any{
		map[string]any{"ingestToken": []any{}},
		map[string]any{"ingestTokenQuery": []any{}},
		map[string]any{"adminToken": []any{}},
	}
	intakes := 0
	for _, r := range registeredRoutes(t) {
		method, path, ok := strings.Cut(r.pattern, " ")
		if !ok {
			continue
		}
		item, _ := paths[docPath(path)].(map[string]any)
		op, _ := item[strings.ToLower(method)].(map[string]any)
		if op == nil {
			continue // TestOpenAPIDocumentsEveryRoute reports it
		}
		security, overrides := op["security"]
		switch _, intake := guardOf(s, method, path); {
		case intake:
			intakes++
			if !reflect.DeepEqual(security, want) {
				t.Errorf("%s takes ingest tokens (%s), but its security is %v, want %v", r.pattern, r.pos, security, want)
			}
		case overrides && strings.Contains(fmt.Sprint(security), "ingestToken"):
			t.Errorf("%s takes no ingest token (%s), but its security lists one: %v", r.pattern, r.pos, security)
		}
	}
	if intakes == 0 {
		t.Error("found no route that takes ingest tokens")
	}
}

// TestOpenAPIRuleExamples checks the document's rule examples against the
// code: every rule a request example holds is valid, the answer examples
// show the PromQL their request's form compiles to, and the rule file
// examples are what import and export make of them.
func TestOpenAPIRuleExamples(t *testing.T) {
	doc := loadOpenAPI(t)
	value := func(ref string) any {
		t.Helper()
		v, err := resolve(doc, ref)
		if err != "" {
			t.Fatalf("%s: %s", ref, err)
		}
		return v
	}
	asJSON := func(ref string) []byte {
		t.Helper()
		data, err := json.Marshal(value(ref))
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		return data
	}
	rules := map[string]rule.Rule{}
	for _, name := range []string{"RuleFormRequest", "RulePromQLRequest", "RuleEventRequest"} {
		r, err := rule.Decode(asJSON("#/components/examples/" + name + "/value"))
		if err != nil {
			t.Errorf("example %s: %v", name, err)
		}
		rules[name] = r
	}
	want := rules["RuleFormRequest"].Expr
	for _, ref := range []string{
		"#/components/examples/RuleForm/value",
		"#/paths/~1api~1v1~1rules~1preview/post/responses/200/content/application~1json/example",
	} {
		var answer struct{ Expr string }
		if err := json.Unmarshal(asJSON(ref), &answer); err != nil {
			t.Fatal(err)
		}
		if answer.Expr != want {
			t.Errorf("%s: expr is %q, but the form of RuleFormRequest compiles to %q", ref, answer.Expr, want)
		}
	}

	const rulesPath = "#/paths/~1api~1v1~1rules~1"
	file, _ := value(rulesPath + "import/post/requestBody/content/application~1yaml/example").(string)
	imported, skipped, err := rule.ImportPrometheus([]byte(file))
	if err != nil {
		t.Fatalf("the import example: %v", err)
	}
	var result importResult
	if err := json.Unmarshal(asJSON(rulesPath+"import/post/responses/200/content/application~1json/example"), &result); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range imported {
		names = append(names, r.Name)
	}
	if !slices.Equal(names, result.Created) || !slices.Equal(skipped, result.Skipped) {
		t.Errorf("importing the import example creates %q and skips %q; the answer example says %q and %q", names, skipped, result.Created, result.Skipped)
	}
	exported, _, err := rule.ExportPrometheus(imported)
	if err != nil {
		t.Fatal(err)
	}
	var got, documented any
	if err := yaml.Unmarshal(exported, &got); err != nil {
		t.Fatal(err)
	}
	example, _ := value(rulesPath + "export/get/responses/200/content/application~1yaml/example").(string)
	if err := yaml.Unmarshal([]byte(example), &documented); err != nil {
		t.Fatalf("the export example: %v", err)
	}
	if !reflect.DeepEqual(got, documented) {
		t.Errorf("exporting the imported example gives\n%s\nthe export example is\n%s", exported, example)
	}
}
