package secret

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const token = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestStringNeverPrintsValue(t *testing.T) {
	s := New("SEC" + token)
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "secret", s)
	js, _ := json.Marshal(struct{ S String }{s})
	for name, out := range map[string]string{
		"String":  s.String(),
		"Sprintf": fmt.Sprintf("%v %s %+v %#v", s, s, s, struct{ S String }{s}),
		"URL":     fmt.Sprintf("%v %#v", NewURL("https://x/?access_token="+token), NewURL("https://x/?access_token="+token)),
		"JSON":    string(js),
		"slog":    logs.String(),
	} {
		if strings.Contains(out, token) {
			t.Errorf("%s shows the secret: %s", name, out)
		}
		if !strings.Contains(out, Mask) {
			t.Errorf("%s shows no mask: %s", name, out)
		}
	}
	if s.Reveal() != "SEC"+token {
		t.Errorf("Reveal() = %q", s.Reveal())
	}
}

func TestMaskURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://oapi.dingtalk.com/robot/send?access_token=" + token, "https://oapi.dingtalk.com/robot/send?access_token=" + Mask + "cdef"},
		{"http://user:pw@127.0.0.1:9/x?a=1&b=short", "http://127.0.0.1:9/x?a=" + Mask + "&b=" + Mask},
		{"https://example.com/path", "https://example.com/path"},
		{"https://open.feishu.cn/open-apis/bot/v2/hook/2f5e0b7a-1c3d-4e5f-8a9b-0c1d2e3f4a5b", "https://open.feishu.cn/open-apis/bot/v2/hook/" + Mask + "4a5b"},
		{"https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXX1", "https://hooks.slack.com/services/T00000000/B00000000/" + Mask + "XXX1"},
		{token, Mask + "cdef"},
		{"", ""},
	} {
		if got := MaskURL(tc.in); got != tc.want {
			t.Errorf("MaskURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRedact(t *testing.T) {
	msg := `Post "https://oapi.dingtalk.com/robot/send?access_token=` + token + `": dial tcp: refused`
	got := Redact(msg, token, "")
	if strings.Contains(got, token) || !strings.Contains(got, "dial tcp") {
		t.Errorf("Redact = %q", got)
	}
}

func TestBoxRoundTripAndBinding(t *testing.T) {
	key := bytes.Repeat([]byte{7}, KeySize)
	box, err := NewBox(key)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := box.Seal([]byte("hello"), []byte("ch1"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("hello")) {
		t.Fatal("sealed blob contains the plaintext")
	}
	got, err := box.Open(sealed, []byte("ch1"))
	if err != nil || string(got) != "hello" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := box.Open(sealed, []byte("ch2")); err != ErrOpen {
		t.Errorf("Open with other additional data: err = %v, want ErrOpen", err)
	}
	other, _ := NewBox(bytes.Repeat([]byte{8}, KeySize))
	if _, err := other.Open(sealed, []byte("ch1")); err != ErrOpen {
		t.Errorf("Open with other key: err = %v, want ErrOpen", err)
	}
	if _, err := NewBox([]byte("short")); err == nil {
		t.Error("NewBox accepted a short key")
	}
}

func TestKeyFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "secret.key")
	if _, err := LoadKey(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("LoadKey of a missing file: %v, want fs.ErrNotExist", err)
	}
	k1, err := NewKey()
	if err != nil || len(k1) != KeySize {
		t.Fatalf("NewKey: %d bytes, %v", len(k1), err)
	}
	if err := WriteKey(path, k1); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %v, want 0600", st.Mode().Perm())
	}
	if err := WriteKey(path, k1); err == nil {
		t.Error("WriteKey overwrote an existing key file")
	}
	k2, err := LoadKey(path)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("LoadKey: same=%v err=%v", bytes.Equal(k1, k2), err)
	}
	os.Chmod(path, 0o644)
	if _, err := LoadKey(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable key: err = %v", err)
	}
	os.Chmod(path, 0o600)
	os.WriteFile(path, []byte("nothex"), 0o600)
	if _, err := LoadKey(path); err == nil {
		t.Error("garbage key accepted")
	}
}
