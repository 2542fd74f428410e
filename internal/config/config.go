// Package config turns flags, environment variables and an optional YAML
// file into one validated Config for `tocsin serve`. Precedence: flag, then
// environment variable, then file, then default. Only internal/app reads it;
// subsystems get small option structs.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/tocsinhq/tocsin/internal/channel"
	"github.com/tocsinhq/tocsin/internal/route"
	"github.com/tocsinhq/tocsin/internal/secret"
)

// Config is the server's configuration.
type Config struct {
	Listen        string        `yaml:"listen"`
	DataDir       string        `yaml:"data_dir"`
	DatabaseURL   secret.String `yaml:"-"`
	AdminToken    secret.String `yaml:"-"`
	PublicURL     string        `yaml:"public_url"`
	AllowHosts    []string      `yaml:"allow_hosts"`
	SecretKeyFile string        `yaml:"secret_key_file"`
	// Timezone renders times in messages when a channel sets none; empty
	// means the machine's local zone.
	Timezone string `yaml:"timezone"`
	// Base URLs of the platforms' APIs; tests and proxies point them
	// elsewhere. Their hosts are where channel URLs may point.
	DingTalkRobotBaseURL string `yaml:"dingtalk_robot_base_url"`
	DingTalkAPIBaseURL   string `yaml:"dingtalk_api_base_url"`
	LarkBaseURL          string `yaml:"lark_base_url"`
	LarkIntlBaseURL      string `yaml:"lark_intl_base_url"`
	WeComBaseURL         string `yaml:"wecom_base_url"`
	// MaxBodyBytes caps request bodies; larger ones get 413.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// SendTimeout bounds each call to a platform.
	SendTimeout time.Duration `yaml:"send_timeout"`
	LogLevel    string        `yaml:"log_level"`
	LogFormat   string        `yaml:"log_format"`
	// ResolveTimeout ends an alert sent without an end this long after it
	// was last received, as Alertmanager's resolve_timeout.
	ResolveTimeout time.Duration `yaml:"resolve_timeout"`
	// MetricsRetention is how long the embedded metric store keeps
	// samples.
	MetricsRetention time.Duration `yaml:"metrics_retention"`
	// RuleConcurrency bounds the rule evaluations running at once.
	RuleConcurrency int `yaml:"rule_concurrency"`
	// InhibitRules, from the file's inhibit_rules (Alertmanager's
	// source_matchers / target_matchers / equal form).
	InhibitRules []route.InhibitRule `yaml:"-"`

	// Derived by Validate.
	Hosts    channel.HostList `yaml:"-"`
	Location *time.Location   `yaml:"-"`
}

// fileConfig is the YAML file's shape: Config plus the secrets, which are
// plain strings there.
type fileConfig struct {
	Config       `yaml:",inline"`
	DatabaseURL  string            `yaml:"database_url"`
	AdminToken   string            `yaml:"admin_token"`
	InhibitRules []inhibitRuleYAML `yaml:"inhibit_rules"`
}

type inhibitRuleYAML struct {
	SourceMatchers []string `yaml:"source_matchers" json:"source_matchers"`
	TargetMatchers []string `yaml:"target_matchers" json:"target_matchers"`
	Equal          []string `yaml:"equal" json:"equal"`
}

// Default returns the configuration `tocsin serve` uses with no flags: local
// only, SQLite in ./tocsin-data.
func Default() Config {
	return Config{
		Listen:               "127.0.0.1:9393",
		DataDir:              "tocsin-data",
		DingTalkRobotBaseURL: "https://oapi.dingtalk.com",
		DingTalkAPIBaseURL:   "https://api.dingtalk.com",
		LarkBaseURL:          "https://open.feishu.cn",
		LarkIntlBaseURL:      "https://open.larksuite.com",
		WeComBaseURL:         "https://qyapi.weixin.qq.com",
		MaxBodyBytes:         1 << 20,
		SendTimeout:          10 * time.Second,
		ResolveTimeout:       5 * time.Minute,
		MetricsRetention:     15 * 24 * time.Hour,
		RuleConcurrency:      4,
		LogLevel:             "info",
		LogFormat:            "text",
	}
}

// Load builds the configuration from args (without the command name),
// getenv and the file named by --config / TOCSIN_CONFIG, then validates it.
func Load(args []string, getenv func(string) string, usage io.Writer) (Config, error) {
	cfg := Default()
	fs := flag.NewFlagSet("tocsin serve", flag.ContinueOnError)
	fs.SetOutput(usage)
	var (
		configPath = fs.String("config", "", "YAML configuration file (env TOCSIN_CONFIG)")
		listen     = fs.String("listen", "", "address to listen on (env TOCSIN_LISTEN; default "+cfg.Listen+")")
		dataDir    = fs.String("data-dir", "", "directory for the SQLite database and secret key (env TOCSIN_DATA_DIR; default ./"+cfg.DataDir+")")
		dbURL      = fs.String("database-url", "", "empty for SQLite in the data dir, or postgres://… (env TOCSIN_DATABASE_URL)")
		adminTok   = fs.String("admin-token", "", "admin API token; empty: generated on first start and printed once (env TOCSIN_ADMIN_TOKEN)")
		publicURL  = fs.String("public-url", "", "base URL of this server for links in messages (env TOCSIN_PUBLIC_URL)")
		allowHosts = fs.String("allow-hosts", "", "extra hosts, host:port or CIDRs that channel URLs may point to, comma separated (env TOCSIN_ALLOW_HOSTS)")
		keyFile    = fs.String("secret-key-file", "", "AES key sealing channel secrets; created 0600 when absent (env TOCSIN_SECRET_KEY_FILE; default <data-dir>/secret.key)")
		timezone   = fs.String("timezone", "", "IANA time zone for times in messages (env TOCSIN_TIMEZONE; default the machine's)")
		dtBase     = fs.String("dingtalk-robot-base-url", "", "base URL of DingTalk's custom robot API (env TOCSIN_DINGTALK_ROBOT_BASE_URL; default "+cfg.DingTalkRobotBaseURL+")")
		dtAPIBase  = fs.String("dingtalk-api-base-url", "", "base URL of DingTalk's OpenAPI, for app robots (env TOCSIN_DINGTALK_API_BASE_URL; default "+cfg.DingTalkAPIBaseURL+")")
		larkBase   = fs.String("lark-base-url", "", "base URL of Feishu's API (env TOCSIN_LARK_BASE_URL; default "+cfg.LarkBaseURL+")")
		larkIntl   = fs.String("lark-intl-base-url", "", "base URL of Lark's international API (env TOCSIN_LARK_INTL_BASE_URL; default "+cfg.LarkIntlBaseURL+")")
		wecomBase  = fs.String("wecom-base-url", "", "base URL of WeCom's API (env TOCSIN_WECOM_BASE_URL; default "+cfg.WeComBaseURL+")")
		logLevel   = fs.String("log-level", "", "debug, info, warn or error (env TOCSIN_LOG_LEVEL)")
		logFormat  = fs.String("log-format", "", "text or json (env TOCSIN_LOG_FORMAT)")
		retention  = fs.String("metrics-retention", "", "how long the embedded metric store keeps samples, such as 15d or 720h (env TOCSIN_METRICS_RETENTION; default 15d)")
	)
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected argument %q: tocsin serve takes only flags", fs.Arg(0))
	}
	pick := func(flagVal, env string) string {
		if flagVal != "" {
			return flagVal
		}
		return getenv(env)
	}
	if path := pick(*configPath, "TOCSIN_CONFIG"); path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("read config file: %w", err)
		}
		if err := parseFile(data, &cfg); err != nil {
			return Config{}, fmt.Errorf("config file %s: %w", path, err)
		}
	}
	set := func(dst *string, flagVal, env string) {
		if v := pick(flagVal, env); v != "" {
			*dst = v
		}
	}
	set(&cfg.Listen, *listen, "TOCSIN_LISTEN")
	set(&cfg.DataDir, *dataDir, "TOCSIN_DATA_DIR")
	set(&cfg.PublicURL, *publicURL, "TOCSIN_PUBLIC_URL")
	set(&cfg.SecretKeyFile, *keyFile, "TOCSIN_SECRET_KEY_FILE")
	set(&cfg.Timezone, *timezone, "TOCSIN_TIMEZONE")
	set(&cfg.DingTalkRobotBaseURL, *dtBase, "TOCSIN_DINGTALK_ROBOT_BASE_URL")
	set(&cfg.DingTalkAPIBaseURL, *dtAPIBase, "TOCSIN_DINGTALK_API_BASE_URL")
	set(&cfg.LarkBaseURL, *larkBase, "TOCSIN_LARK_BASE_URL")
	set(&cfg.LarkIntlBaseURL, *larkIntl, "TOCSIN_LARK_INTL_BASE_URL")
	set(&cfg.WeComBaseURL, *wecomBase, "TOCSIN_WECOM_BASE_URL")
	set(&cfg.LogLevel, *logLevel, "TOCSIN_LOG_LEVEL")
	set(&cfg.LogFormat, *logFormat, "TOCSIN_LOG_FORMAT")
	if v := pick(*retention, "TOCSIN_METRICS_RETENTION"); v != "" {
		d, err := route.ParseDuration(v)
		if err != nil {
			return Config{}, fmt.Errorf("metrics retention: %w", err)
		}
		cfg.MetricsRetention = d
	}
	if v := pick(*dbURL, "TOCSIN_DATABASE_URL"); v != "" {
		cfg.DatabaseURL = secret.New(v)
	}
	if v := pick(*adminTok, "TOCSIN_ADMIN_TOKEN"); v != "" {
		cfg.AdminToken = secret.New(v)
	}
	if v := pick(*allowHosts, "TOCSIN_ALLOW_HOSTS"); v != "" {
		cfg.AllowHosts = strings.Split(v, ",")
	}
	if cfg.SecretKeyFile == "" {
		cfg.SecretKeyFile = filepath.Join(cfg.DataDir, "secret.key")
	}
	return cfg, cfg.Validate()
}

// parseFile decodes a YAML file strictly: an unknown key is an error naming it.
func parseFile(data []byte, cfg *Config) error {
	fc := fileConfig{Config: *cfg}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&fc); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	*cfg = fc.Config
	if fc.DatabaseURL != "" {
		cfg.DatabaseURL = secret.New(fc.DatabaseURL)
	}
	if fc.AdminToken != "" {
		cfg.AdminToken = secret.New(fc.AdminToken)
	}
	var errs []error
	for i, r := range fc.InhibitRules {
		// The rule's own decoder validates and words the problems.
		j, err := json.Marshal(r)
		if err == nil {
			var ir route.InhibitRule
			if err = ir.UnmarshalJSON(j); err == nil {
				cfg.InhibitRules = append(cfg.InhibitRules, ir)
				continue
			}
		}
		errs = append(errs, fmt.Errorf("inhibit_rules[%d]: %w", i, err))
	}
	return errors.Join(errs...)
}

// Validate checks every setting and reports all problems at once; it also
// fills the derived fields (Hosts, Location).
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen %q: want host:port, like 127.0.0.1:9393 or :9393", c.Listen)
	}
	if c.DataDir == "" {
		bad("data dir must not be empty")
	}
	if db := c.DatabaseURL.Reveal(); db != "" && !strings.HasPrefix(db, "postgres://") && !strings.HasPrefix(db, "postgresql://") {
		bad("database url must be empty (SQLite in the data dir) or start with postgres://")
	}
	if t := c.AdminToken.Reveal(); t != "" && len(t) < 16 {
		bad("admin token must be at least 16 characters")
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("public url %q: want an absolute http(s) URL, like https://tocsin.example.com", c.PublicURL)
		}
	}
	hosts, err := channel.ParseHostList(strings.Join(c.AllowHosts, ","))
	if err != nil {
		bad("%v", err)
	}
	c.Hosts = hosts
	c.Location = time.Local
	if c.Timezone != "" {
		loc, err := time.LoadLocation(c.Timezone)
		if err != nil {
			bad("timezone %q is not an IANA time zone: use a name like Asia/Shanghai or UTC", c.Timezone)
		}
		c.Location = loc
	}
	for name, v := range map[string]string{
		"dingtalk robot base url": c.DingTalkRobotBaseURL, "dingtalk api base url": c.DingTalkAPIBaseURL,
		"lark base url": c.LarkBaseURL, "lark intl base url": c.LarkIntlBaseURL, "wecom base url": c.WeComBaseURL,
	} {
		if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("%s %q: want an absolute http(s) URL", name, v)
		}
	}
	if c.MaxBodyBytes < 1024 {
		bad("max body bytes must be at least 1024, got %d", c.MaxBodyBytes)
	}
	if c.SendTimeout <= 0 {
		bad("send timeout must be positive")
	}
	if c.ResolveTimeout <= 0 {
		bad("resolve_timeout must be positive, like 5m")
	}
	if c.MetricsRetention < time.Hour {
		bad("metrics retention must be at least 1h (rules compare with an hour earlier), like 15d; got %s", c.MetricsRetention)
	}
	if c.RuleConcurrency < 1 || c.RuleConcurrency > 256 {
		bad("rule_concurrency must be from 1 to 256, got %d", c.RuleConcurrency)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("log level %q: want debug, info, warn or error", c.LogLevel)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		bad("log format %q: want text or json", c.LogFormat)
	}
	return errors.Join(errs...)
}

// ChannelEnv returns what channel validation needs: the platforms' base
// URLs (Validate guarantees they parse) and the allow-list.
func (c *Config) ChannelEnv() channel.Env {
	parse := func(s string) *url.URL {
		u, _ := url.Parse(s)
		return u
	}
	return channel.Env{
		DingTalkRobotBase: parse(c.DingTalkRobotBaseURL),
		DingTalkAppBase:   parse(c.DingTalkAPIBaseURL),
		LarkBase:          parse(c.LarkBaseURL),
		LarkIntlBase:      parse(c.LarkIntlBaseURL),
		WeComBase:         parse(c.WeComBaseURL),
		Allow:             c.Hosts,
	}
}
