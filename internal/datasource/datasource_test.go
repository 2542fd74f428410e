package datasource

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tocsinhq/tocsin/internal/problem"
	"github.com/tocsinhq/tocsin/internal/secret"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json with the current output")

const testToken = "glsa_0123456789abcdefABCDEF_wxyz"

func mimir() Source {
	return Source{
		ID:          "ds_01",
		Name:        "mimir-prod",
		URL:         "https://mimir.example/prometheus",
		Username:    "tenant-7",
		Password:    secret.New("correct horse battery staple"),
		Headers:     map[string]string{"X-Scope-OrgID": "team-a|team-b"},
		Timeout:     time.Minute + 30*time.Second,
		CreatedAt:   time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC),
		UpdatedAt:   time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC),
		BearerToken: secret.String{},
	}
}

func TestMarshalJSON(t *testing.T) {
	for _, tc := range []struct {
		file string
		src  Source
	}{
		{"basic-auth.golden.json", mimir()},
		// No timeout: the default shows; no headers: an empty object.
		{"bearer-defaults.golden.json", Source{ID: "ds_02", Name: "prom", URL: "http://prometheus:9090", BearerToken: secret.New(testToken)}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got, err := json.MarshalIndent(tc.src, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			for _, s := range []string{testToken, "correct horse"} {
				if bytes.Contains(got, []byte(s)) {
					t.Errorf("the JSON reveals the secret %q:\n%s", s, got)
				}
			}
			path := filepath.Join("testdata", tc.file)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("JSON differs from %s (-want +got):\n%s", path, diff)
			}
		})
	}
}

// TestJSONRoundTrip is what the store relies on: the JSON it keeps reads
// back as the same source, the secrets masked (the store seals those
// apart).
func TestJSONRoundTrip(t *testing.T) {
	src := mimir()
	data, err := json.Marshal(src)
	if err != nil {
		t.Fatal(err)
	}
	var back Source
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	want := src
	want.Password = secret.New(src.Password.String())
	if diff := cmp.Diff(want, back, cmp.Comparer(func(a, b secret.String) bool { return a.Reveal() == b.Reveal() })); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

// problems lists the field and code of every problem in err, which must
// be a *problem.List (or nil).
func problems(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var list *problem.List
	if !errors.As(err, &list) {
		t.Fatalf("error %v (%T) is not a *problem.List", err, err)
	}
	var out []string
	for _, p := range list.Items {
		out = append(out, p.Field+" "+p.Code)
	}
	return out
}

func TestUnmarshalJSON(t *testing.T) {
	for _, tc := range []struct {
		name     string
		in       string
		timeout  time.Duration
		problems []string
	}{
		{"duration", `{"name":"p","url":"http://p","timeout":"1m30s"}`, 90 * time.Second, nil},
		{"days are durations too", `{"name":"p","url":"http://p","timeout":"1d"}`, 24 * time.Hour, nil},
		{"no timeout", `{"name":"p","url":"http://p"}`, 0, nil},
		{"empty timeout", `{"name":"p","url":"http://p","timeout":""}`, 0, nil},
		{"null timeout", `{"name":"p","url":"http://p","timeout":null}`, 0, nil},
		{"zero timeout", `{"name":"p","url":"http://p","timeout":"0s"}`, 0, []string{"timeout out-of-range"}},
		{"bad timeout", `{"name":"p","url":"http://p","timeout":"soon"}`, 0, []string{"timeout invalid-duration"}},
		{"number timeout", `{"name":"p","url":"http://p","timeout":30}`, 0, []string{"timeout invalid-type"}},
		{"unknown field", `{"name":"p","url":"http://p","tiemout":"30s"}`, 0, []string{"tiemout unknown-field"}},
		{"headers not an object", `{"name":"p","url":"http://p","headers":["X-A: b"]}`, 0, []string{"headers invalid-type"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// As the API decodes a body.
			var s Source
			err := problem.DecodeStrict([]byte(tc.in), &s, "")
			if diff := cmp.Diff(tc.problems, problems(t, err)); diff != "" {
				t.Fatalf("problems (-want +got):\n%s\n%v", diff, err)
			}
			if err == nil && s.Timeout != tc.timeout {
				t.Errorf("Timeout = %v, want %v", s.Timeout, tc.timeout)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	valid := func() Source {
		return Source{Name: "prom", URL: "http://prometheus:9090", Timeout: 10 * time.Second}
	}
	for _, tc := range []struct {
		name     string
		edit     func(*Source)
		problems []string
	}{
		{"valid", func(s *Source) {}, nil},
		{"everything missing", func(s *Source) { *s = Source{} }, []string{"name required", "url required"}},
		{"reserved name", func(s *Source) { s.Name = " Embedded " }, []string{"name reserved-name"}},
		{"name too long", func(s *Source) { s.Name = strings.Repeat("é", MaxNameLen+1) }, []string{"name too-long"}},
		{"name with slash", func(s *Source) { s.Name = "prom/prod" }, []string{"name invalid-name"}},
		{"name with newline", func(s *Source) { s.Name = "prom\nprod" }, []string{"name invalid-name"}},
		{"no scheme", func(s *Source) { s.URL = "prometheus:9090" }, []string{"url invalid-url"}},
		{"other scheme", func(s *Source) { s.URL = "ftp://prometheus" }, []string{"url invalid-url"}},
		{"no host", func(s *Source) { s.URL = "http:///api" }, []string{"url invalid-url"}},
		{"relative", func(s *Source) { s.URL = "/prometheus" }, []string{"url invalid-url"}},
		{"credentials in URL", func(s *Source) { s.URL = "https://admin:pw@prom" }, []string{"url invalid-url"}},
		{"query", func(s *Source) { s.URL = "http://prom/?tenant=a" }, []string{"url invalid-url"}},
		{"empty query", func(s *Source) { s.URL = "http://prom/?" }, []string{"url invalid-url"}},
		{"fragment", func(s *Source) { s.URL = "http://prom/#graph" }, []string{"url invalid-url"}},
		{"query endpoint", func(s *Source) { s.URL = "http://prom:9090/api/v1/query" }, []string{"url invalid-url"}},
		{"api base", func(s *Source) { s.URL = "http://prom:9090/api/v1" }, []string{"url invalid-url"}},
		{"https with path", func(s *Source) { s.URL = "https://mimir.example/prometheus" }, nil},
		{"bearer and basic", func(s *Source) {
			s.BearerToken, s.Username, s.Password = secret.New("t"), "u", secret.New("p")
		}, []string{"bearer_token conflicting-auth"}},
		{"bearer and password", func(s *Source) { s.BearerToken, s.Password = secret.New("t"), secret.New("p") }, []string{"bearer_token conflicting-auth"}},
		{"username alone", func(s *Source) { s.Username = "u" }, []string{"password required"}},
		{"password alone", func(s *Source) { s.Password = secret.New("p") }, []string{"username required"}},
		{"basic", func(s *Source) { s.Username, s.Password = "u", secret.New("p") }, nil},
		{"masked bearer", func(s *Source) { s.BearerToken = secret.New(secret.Mask + "wxyz") }, nil},
		{"headers", func(s *Source) {
			s.Headers = map[string]string{"X-Scope-OrgID": "a|b", "X-Tenant": "t\tabs are fine"}
		}, nil},
		{"authorization header", func(s *Source) { s.Headers = map[string]string{"authorization": "Bearer x"} }, []string{"headers.authorization reserved-header"}},
		{"content type header", func(s *Source) { s.Headers = map[string]string{"Content-Type": "text/plain"} }, []string{"headers.Content-Type reserved-header"}},
		{"bad header names", func(s *Source) { s.Headers = map[string]string{"X Tenant": "a", "": "b", "X-Ä": "c"} }, []string{
			`headers[""] invalid-header`, `headers["X Tenant"] invalid-header`, "headers.X-Ä invalid-header",
		}},
		{"header twice", func(s *Source) { s.Headers = map[string]string{"X-Scope-OrgID": "a", "x-scope-orgid": "b"} }, []string{"headers.x-scope-orgid duplicate-header"}},
		{"header value with newline", func(s *Source) { s.Headers = map[string]string{"X-A": "a\r\nX-Injected: 1"} }, []string{"headers.X-A invalid-header-value"}},
		{"timeout too short", func(s *Source) { s.Timeout = 500 * time.Millisecond }, []string{"timeout out-of-range"}},
		{"timeout too long", func(s *Source) { s.Timeout = 5*time.Minute + time.Second }, []string{"timeout out-of-range"}},
		{"negative timeout", func(s *Source) { s.Timeout = -time.Second }, []string{"timeout out-of-range"}},
		{"shortest timeout", func(s *Source) { s.Timeout = time.Second }, nil},
		{"longest timeout", func(s *Source) { s.Timeout = 5 * time.Minute }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := valid()
			tc.edit(&s)
			err := s.Validate()
			if diff := cmp.Diff(tc.problems, problems(t, err)); diff != "" {
				t.Errorf("problems (-want +got):\n%s\n%v", diff, err)
			}
		})
	}
}

func TestValidateNormalises(t *testing.T) {
	s := Source{Name: "  prom ", URL: " https://Mimir.example/prometheus// ", Username: " u ", Password: secret.New("p")}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if s.Name != "prom" || s.URL != "https://mimir.example/prometheus" || s.Username != "u" || s.Timeout != DefaultTimeout {
		t.Errorf("normalised to name %q, URL %q, username %q, timeout %v", s.Name, s.URL, s.Username, s.Timeout)
	}
}

func TestValidateNeverQuotesURLCredentials(t *testing.T) {
	s := Source{Name: "p", URL: "https://admin:s3cret-pass@prom.example/"}
	err := s.Validate()
	if err == nil || strings.Contains(err.Error(), "s3cret-pass") {
		t.Errorf("Validate = %v, want a problem that does not quote the password", err)
	}
	if strings.Contains(s.URL, "s3cret-pass") {
		t.Errorf("the refused URL %q keeps the password", s.URL)
	}
}

func TestValidateSuggestsTheBase(t *testing.T) {
	s := Source{Name: "p", URL: "http://prom:9090/select/0/prometheus/api/v1/query_range/"}
	err := s.Validate()
	if err == nil || !strings.Contains(err.Error(), "http://prom:9090/select/0/prometheus") || strings.Contains(err.Error(), "prometheus/api") {
		t.Errorf("Validate = %v, want the base URL suggested", err)
	}
}

func TestKeepSecrets(t *testing.T) {
	stored := func() *Source {
		return &Source{Name: "p", URL: "https://prom.example:9090", BearerToken: secret.New(testToken), Username: "", Password: secret.String{}}
	}
	masked := secret.New(secret.New(testToken).String())
	for _, tc := range []struct {
		name     string
		now      Source
		old      *Source
		token    string
		problems []string
	}{
		{"masked is kept", Source{URL: "https://prom.example:9090", BearerToken: masked}, stored(), testToken, nil},
		{"bare mask is kept", Source{URL: "https://prom.example:9090", BearerToken: secret.New(secret.Mask)}, stored(), testToken, nil},
		{"new token replaces", Source{URL: "https://prom.example:9090", BearerToken: secret.New("new-token")}, stored(), "new-token", nil},
		{"emptied token stays empty", Source{URL: "https://prom.example:9090"}, stored(), "", nil},
		{"path change keeps", Source{URL: "https://prom.example:9090/other", BearerToken: masked}, stored(), testToken, nil},
		{"on create", Source{URL: "https://prom.example:9090", BearerToken: masked}, nil, secret.Mask + "wxyz", []string{"bearer_token masked-secret"}},
		{"nothing stored", Source{URL: "https://prom.example:9090", Username: "u", Password: secret.New(secret.Mask)}, stored(), "", []string{"password masked-secret"}},
		{"new host", Source{URL: "https://evil.example:9090", BearerToken: masked}, stored(), secret.Mask + "wxyz", []string{"bearer_token masked-secret"}},
		{"new port", Source{URL: "https://prom.example:9443", BearerToken: masked}, stored(), secret.Mask + "wxyz", []string{"bearer_token masked-secret"}},
		{"plain http now", Source{URL: "http://prom.example:9090", BearerToken: masked}, stored(), secret.Mask + "wxyz", []string{"bearer_token masked-secret"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.now
			err := s.KeepSecrets(tc.old)
			if diff := cmp.Diff(tc.problems, problems(t, err)); diff != "" {
				t.Errorf("problems (-want +got):\n%s\n%v", diff, err)
			}
			if got := s.BearerToken.Reveal(); got != tc.token {
				t.Errorf("bearer token %q, want %q", got, tc.token)
			}
		})
	}
}

func TestKeepSecretsRestoresPassword(t *testing.T) {
	old := mimir()
	s := mimir()
	s.Password = secret.New(old.Password.String())
	if err := s.KeepSecrets(&old); err != nil || s.Password.Reveal() != old.Password.Reveal() {
		t.Errorf("KeepSecrets = %v, password %q", err, s.Password.Reveal())
	}
}
