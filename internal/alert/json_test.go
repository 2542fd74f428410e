package alert

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzAppendJSONString: the hand-written string encoder writes exactly what
// encoding/json writes with HTML escaping off.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", `"quoted" \ back`, "tab\tnew\nline\r\b\f\x00\x1f\x7f", "<a href=\"x\">&amp;</a>",
		"告警 🔥", "bad \xff\xfe utf8 \xe6\x97", "line\u2028para\u2029", "\ufffd"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		if got := AppendJSONString(nil, s); string(got)+"\n" != want.String() {
			t.Errorf("AppendJSONString(%q) = %s, encoding/json writes %s", s, got, want.Bytes())
		}
	})
}

// TestLabelsAppendJSON: labels write as the JSON object encoding/json
// writes for their map.
func TestLabelsAppendJSON(t *testing.T) {
	for _, ls := range []Labels{nil, FromMap(map[string]string{"alertname": "Disk\"Full", "z": "告警 <b>", "a": "\x01"})} {
		want, err := json.Marshal(ls.Map())
		if err != nil {
			t.Fatal(err)
		}
		var w bytes.Buffer
		_ = json.Compact(&w, want)
		got := ls.AppendJSON(nil)
		var a, b any
		if err := json.Unmarshal(got, &a); err != nil {
			t.Fatalf("%s: %v", got, err)
		}
		_ = json.Unmarshal(want, &b)
		if ab, _ := json.Marshal(a); string(ab) != string(mustMarshal(b)) {
			t.Errorf("AppendJSON = %s, want %s", got, want)
		}
	}
}

func mustMarshal(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
