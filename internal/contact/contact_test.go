package contact

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tocsinhq/tocsin/internal/notify"
	"github.com/tocsinhq/tocsin/internal/problem"
)

func validate(t *testing.T, body string) (*Contact, error) {
	t.Helper()
	in, err := Decode([]byte(body))
	if err != nil {
		return nil, err
	}
	return Validate(in)
}

// fields returns "field:code" for every problem in err.
func fields(err error) []string {
	if err == nil {
		return nil
	}
	var p *problem.List
	if !errors.As(err, &p) {
		return []string{"not problems: " + err.Error()}
	}
	var out []string
	for _, pr := range p.Items {
		out = append(out, pr.Field+":"+pr.Code)
	}
	return out
}

func TestParseMobile(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"13800138000", "13800138000", true},
		{"19912345678", "19912345678", true},
		{" 13800138000 ", "13800138000", true},
		{"138 0013 8000", "13800138000", true},
		{"138-0013-8000", "13800138000", true},
		{"138 - 0013 - 8000", "13800138000", true},
		{"+86-13800138000", "13800138000", true}, // the platforms know mainland numbers without +86
		{"+86-138 0013 8000", "13800138000", true},
		{"+852-12345678", "+852-12345678", true},
		{"+1-4155550100", "+1-4155550100", true},
		{"+44-7700900123", "+44-7700900123", true},
		{"+999-123456789012", "+999-123456789012", true}, // 15 digits
		{"+999-1234567890123", "", false},                // 16 digits: longer than E.164 allows
		{"+852-123", "", false},
		{"+852 12345678", "", false},
		{"+85212345678", "", false},
		{"852-12345678", "", false},
		{"+0-12345678", "", false},
		{"+1234-5678901", "", false}, // country codes have at most 3 digits
		{"+852-1234 5678", "", false},
		{"+86-1380013800", "", false}, // +86 is a mainland number: 11 digits
		{"+86 13800138000", "", false},
		{"+8613800138000", "", false},
		{"1380013800", "", false},
		{"138001380000", "", false},
		{"12800138000", "", false}, // no mainland mobile starts 12
		{"23800138000", "", false},
		{"-13800138000", "", false},
		{"13800138000-", "", false},
		{"1380013800O", "", false},
		{"１３８００１３８０００", "", false}, // full-width digits
		{"138\t0013\t8000", "", false},
		{"", "", false},
		{"+", "", false},
		{"-", "", false},
		{"tel:13800138000", "", false},
	} {
		got, ok := ParseMobile(tc.in)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("ParseMobile(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestValidateAccepts(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		want Contact
	}{
		{"every identity", `{"name":"  Zhang San ","mobile":"138 0013 8000","dingtalk_user_id":" manager1234 ","lark_open_id":"ou_7d8a6e6df7621556ce0d21922b676706","wecom_user_id":"zhang.san@corp","email":" zhang.san@example.com "}`,
			Contact{Name: "Zhang San", Mobile: "13800138000", DingTalkUserID: "manager1234", LarkOpenID: "ou_7d8a6e6df7621556ce0d21922b676706", WeComUserID: "zhang.san@corp", Email: "zhang.san@example.com"}},
		{"only a mobile abroad", `{"name":"陈大文","mobile":"+852-12345678"}`, Contact{Name: "陈大文", Mobile: "+852-12345678"}},
		{"only email", `{"name":"a","email":"a@b"}`, Contact{Name: "a", Email: "a@b"}},
		{"only dingtalk, chosen by the organisation", `{"name":"a","dingtalk_user_id":"工号-0042"}`, Contact{Name: "a", DingTalkUserID: "工号-0042"}},
		{"only lark", `{"name":"a","lark_open_id":"ou_x"}`, Contact{Name: "a", LarkOpenID: "ou_x"}},
		{"only wecom", `{"name":"a","wecom_user_id":"ZhangSan"}`, Contact{Name: "a", WeComUserID: "ZhangSan"}},
		{"a name of 100 characters", `{"name":"` + strings.Repeat("名", 100) + `","email":"a@b.c"}`, Contact{Name: strings.Repeat("名", 100), Email: "a@b.c"}},
		{"sent back as read", `{"id":"x","name":"a","email":"a@b.c","created_at":"2026-05-20T09:30:00Z","updated_at":"2026-05-20T09:30:00Z"}`, Contact{Name: "a", Email: "a@b.c"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := validate(t, tc.body)
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if diff := cmp.Diff(&tc.want, got); diff != "" {
				t.Errorf("contact (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		want []string
	}{
		{"empty body", ``, []string{":invalid-json"}},
		{"unknown field", `{"name":"a","email":"a@b.c","phone":"13800138000"}`, []string{"phone:unknown-field"}},
		{"wrong type", `{"name":"a","mobile":13800138000}`, []string{"mobile:invalid-type"}},
		{"no name", `{"name":"  ","email":"a@b.c"}`, []string{"name:required"}},
		{"long name", `{"name":"` + strings.Repeat("x", 101) + `","email":"a@b.c"}`, []string{"name:too-long"}},
		{"line break in name", `{"name":"a\nb","email":"a@b.c"}`, []string{"name:invalid-name"}},
		{"no way to reach", `{"name":"a"}`, []string{":unreachable"}},
		{"only blanks", `{"name":"a","mobile":" ","email":"  "}`, []string{":unreachable"}},
		{"short mobile", `{"name":"a","mobile":"1380013800"}`, []string{"mobile:invalid-mobile"}},
		{"mobile with a space after the country code", `{"name":"a","mobile":"+852 12345678"}`, []string{"mobile:invalid-mobile"}},
		{"dingtalk with @", `{"name":"a","dingtalk_user_id":"@manager1234"}`, []string{"dingtalk_user_id:invalid-user-id"}},
		{"dingtalk with a space", `{"name":"a","dingtalk_user_id":"manager 1234"}`, []string{"dingtalk_user_id:invalid-user-id"}},
		{"dingtalk with a comma", `{"name":"a","dingtalk_user_id":"u1,u2"}`, []string{"dingtalk_user_id:invalid-user-id"}},
		{"dingtalk too long", `{"name":"a","dingtalk_user_id":"` + strings.Repeat("u", 65) + `"}`, []string{"dingtalk_user_id:invalid-user-id"}},
		{"lark user_id for open id", `{"name":"a","lark_open_id":"5d9bdxxx"}`, []string{"lark_open_id:invalid-open-id"}},
		{"lark union id", `{"name":"a","lark_open_id":"on_94a1ee5551019f18cd73d9f111898cf2"}`, []string{"lark_open_id:invalid-open-id"}},
		{"lark bare prefix", `{"name":"a","lark_open_id":"ou_"}`, []string{"lark_open_id:invalid-open-id"}},
		{"lark with punctuation", `{"name":"a","lark_open_id":"ou_abc-def"}`, []string{"lark_open_id:invalid-open-id"}},
		{"wecom with a space", `{"name":"a","wecom_user_id":"zhang san"}`, []string{"wecom_user_id:invalid-user-id"}},
		{"wecom starting with punctuation", `{"name":"a","wecom_user_id":"_zhang"}`, []string{"wecom_user_id:invalid-user-id"}},
		{"wecom too long", `{"name":"a","wecom_user_id":"` + strings.Repeat("w", 65) + `"}`, []string{"wecom_user_id:invalid-user-id"}},
		{"wecom non-ascii", `{"name":"a","wecom_user_id":"张三"}`, []string{"wecom_user_id:invalid-user-id"}},
		{"email with a display name", `{"name":"a","email":"Zhang San <zhang.san@example.com>"}`, []string{"email:invalid-email"}},
		{"email in brackets", `{"name":"a","email":"<zhang.san@example.com>"}`, []string{"email:invalid-email"}},
		{"not an email", `{"name":"a","email":"zhang.san"}`, []string{"email:invalid-email"}},
		{"two emails", `{"name":"a","email":"a@b.c, d@e.f"}`, []string{"email:invalid-email"}},
		// A bad identity is its own problem; "unreachable" would only repeat it.
		{"every problem at once", `{"name":"","mobile":"x","dingtalk_user_id":"a b","lark_open_id":"x","wecom_user_id":"-","email":"x"}`,
			[]string{"name:required", "mobile:invalid-mobile", "dingtalk_user_id:invalid-user-id", "lark_open_id:invalid-open-id", "wecom_user_id:invalid-user-id", "email:invalid-email"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := validate(t, tc.body)
			if diff := cmp.Diff(tc.want, fields(err)); diff != "" {
				t.Errorf("problems (-want +got):\n%s\ncontact: %+v", diff, c)
			}
		})
	}
}

func TestMobileMessageShowsBothForms(t *testing.T) {
	_, err := validate(t, `{"name":"a","mobile":"12345"}`)
	msg := err.Error()
	for _, want := range []string{`"12345"`, "13800138000", "+852-12345678"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
}

func TestLarkMessageSaysTheFormat(t *testing.T) {
	_, err := validate(t, `{"name":"a","lark_open_id":"abc"}`)
	if msg := err.Error(); !strings.Contains(msg, "ou_") {
		t.Errorf("message %q does not say an open ID starts with ou_", msg)
	}
}

func TestPerson(t *testing.T) {
	c := Contact{ID: "id", Name: "Zhang San", Mobile: "+852-12345678", DingTalkUserID: "d", LarkOpenID: "ou_l", WeComUserID: "w", Email: "z@example.com"}
	want := notify.Person{Name: "Zhang San", Mobile: "+852-12345678", DingTalkUserID: "d", LarkOpenID: "ou_l", WeComUserID: "w", Email: "z@example.com"}
	if diff := cmp.Diff(want, c.Person()); diff != "" {
		t.Errorf("Person (-want +got):\n%s", diff)
	}
}

func TestContactJSON(t *testing.T) {
	c := Contact{ID: "01", Name: "a", Mobile: "13800138000"}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"id":"01","name":"a","mobile":"13800138000","dingtalk_user_id":"","lark_open_id":"","wecom_user_id":"","email":"","created_at":"0001-01-01T00:00:00Z","updated_at":"0001-01-01T00:00:00Z"}`
	if string(b) != want {
		t.Errorf("JSON\n got %s\nwant %s", b, want)
	}
	// What the API answers, a client may PUT back as it is.
	if _, err := validate(t, string(b)); err != nil {
		t.Errorf("the API shape does not validate: %v", err)
	}
}

// FuzzDecodeContact checks that decoding and validating never panics,
// refuses only with problems, and that a valid contact is a fixed point:
// sent back as the API shows it, it validates to itself.
func FuzzDecodeContact(f *testing.F) {
	for _, s := range []string{
		`{"name":"Zhang San","mobile":"138 0013 8000","dingtalk_user_id":"manager1234","lark_open_id":"ou_7d8a6e6df7621556ce0d21922b676706","wecom_user_id":"zhang.san","email":"z@example.com"}`,
		`{"name":"a","mobile":"+852-12345678"}`,
		`{"name":"a","mobile":"+86-138-0013-8000"}`,
		`{"name":"a","email":"A <a@b.c>"}`,
		`{"name":"","lark_open_id":"ou_","colour":1}`,
		`{"name":"a"}`,
		`[]`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		in, err := Decode([]byte(body))
		if err != nil {
			var p *problem.List
			if !errors.As(err, &p) || len(p.Items) == 0 {
				t.Fatalf("Decode error is not a non-empty *problem.List: %T %v", err, err)
			}
			return
		}
		c, err := Validate(in)
		if err != nil {
			var p *problem.List
			if !errors.As(err, &p) || len(p.Items) == 0 {
				t.Fatalf("Validate error is not a non-empty *problem.List: %T %v", err, err)
			}
			return
		}
		if c.Name == "" || c.Person() == (notify.Person{Name: c.Name}) {
			t.Fatalf("valid contact without a name or a way to reach them: %+v", c)
		}
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("valid contact does not marshal: %v", err)
		}
		in2, err := Decode(b)
		if err != nil {
			t.Fatalf("the API shape %s does not decode: %v", b, err)
		}
		c2, err := Validate(in2)
		if err != nil {
			t.Fatalf("the API shape %s does not validate: %v", b, err)
		}
		if diff := cmp.Diff(c, c2); diff != "" {
			t.Fatalf("validating the API shape changed the contact (-first +second):\n%s", diff)
		}
	})
}
