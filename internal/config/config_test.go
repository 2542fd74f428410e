package config

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	cfg, err := Load(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:9393" || cfg.DataDir != "tocsin-data" || cfg.DatabaseURL.Reveal() != "" ||
		cfg.SecretKeyFile != filepath.Join("tocsin-data", "secret.key") || cfg.Location != time.Local {
		t.Errorf("defaults: %+v", cfg)
	}
}

func TestPrecedenceFlagEnvFile(t *testing.T) {
	file := filepath.Join("testdata", "full.yaml")
	cfg, err := Load([]string{"--config", file, "--listen", "127.0.0.1:7001"},
		env(map[string]string{"TOCSIN_LISTEN": "127.0.0.1:7002", "TOCSIN_DATA_DIR": "/env/dir", "TOCSIN_ADMIN_TOKEN": "0123456789abcdef0123"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string][2]string{
		"listen (flag wins)":   {cfg.Listen, "127.0.0.1:7001"},
		"data dir (env wins)":  {cfg.DataDir, "/env/dir"},
		"key file follows dir": {cfg.SecretKeyFile, "/env/dir/secret.key"},
		"database url (file)":  {cfg.DatabaseURL.Reveal(), "postgres://tocsin@localhost/tocsin"},
		"admin token (env)":    {cfg.AdminToken.Reveal(), "0123456789abcdef0123"},
		"allow hosts (file)":   {cfg.Hosts.String(), "127.0.0.1:9999,10.0.0.0/8"},
		"timezone (file)":      {cfg.Location.String(), "Asia/Shanghai"},
		"send timeout (file)":  {cfg.SendTimeout.String(), "5s"},
		"dingtalk base (file)": {cfg.ChannelEnv().DingTalkRobotBase.String(), "http://127.0.0.1:9999"},
		"log format (file)":    {cfg.LogFormat, "json"},
	} {
		if c[0] != c[1] {
			t.Errorf("%s = %q, want %q", name, c[0], c[1])
		}
	}
}

func TestRefusals(t *testing.T) {
	dir := t.TempDir()
	unknown := filepath.Join(dir, "unknown.yaml")
	os.WriteFile(unknown, []byte("listen: 127.0.0.1:1\nlisen: x\n"), 0o600)
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want []string
	}{
		{"unknown file key", []string{"--config", unknown}, nil, []string{"field lisen not found"}},
		{"missing file", []string{"--config", filepath.Join(dir, "none.yaml")}, nil, []string{"read config file"}},
		{"stray argument", []string{"now"}, nil, []string{`unexpected argument "now"`}},
		{"everything wrong at once", []string{"--listen", "nope", "--database-url", "mysql://x", "--admin-token", "short", "--public-url", "tocsin.example.com", "--allow-hosts", "http://x", "--timezone", "Nowhere/City", "--log-level", "loud"}, nil,
			[]string{"listen", "database url", "admin token", "public url", "allow-hosts", "timezone", "log level"}},
		{"env is checked too", nil, map[string]string{"TOCSIN_TIMEZONE": "UTC+8"}, []string{"timezone"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.args, env(tc.env), io.Discard)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func FuzzParseFile(f *testing.F) {
	data, _ := os.ReadFile(filepath.Join("testdata", "full.yaml"))
	f.Add(string(data))
	f.Add("listen: [1, 2]\n")
	f.Add("send_timeout: forever\n")
	f.Fuzz(func(t *testing.T, s string) {
		cfg := Default()
		if err := parseFile([]byte(s), &cfg); err != nil {
			return
		}
		_ = cfg.Validate() // must not panic, whatever the file held
	})
}
