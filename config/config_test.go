package config

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func load(t *testing.T, args, environ []string, groups ...Group) (Config, error) {
	t.Helper()
	c := Default()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	err := c.Load(fs, args, environ, groups...)
	return c, err
}

func TestEnvironmentThenFlags(t *testing.T) {
	c, err := load(t, []string{"-concurrency", "3"}, []string{
		"FRAMEQ_REDIS_URL=redis://h:1/2", "FRAMEQ_CONCURRENCY=9", "FRAMEQ_CREATE_RATE=4/s",
		"FRAMEQ_CALL_RATE=100/m", "FRAMEQ_TOKEN=t0", "FRAMEQ_TOKEN_ACME=t1", "OTHER=x",
	}, Redis, Worker)
	if err != nil {
		t.Fatal(err)
	}
	if c.RedisURL != "redis://h:1/2" || c.Concurrency != 3 {
		t.Errorf("redis %q concurrency %d; want env URL and the flag's 3", c.RedisURL, c.Concurrency)
	}
	if c.CreateRate != (Rate{4, time.Second}) || c.CallRate != (Rate{100, time.Minute}) {
		t.Errorf("rates %v %v", c.CreateRate, c.CallRate)
	}
	if c.Tokens["default"] != "t0" || c.Tokens["acme"] != "t1" || len(c.Tokens) != 2 {
		t.Errorf("tokens: %d refs %v", len(c.Tokens), c.TokenRefs())
	}
}

func TestBadValuesNameTheVariableOrFlag(t *testing.T) {
	cases := []struct {
		args, env []string
		want      string
	}{
		{nil, []string{"FRAMEQ_CONCURRENCY=lots"}, "FRAMEQ_CONCURRENCY"},
		{nil, []string{"FRAMEQ_CREATE_RATE=5/fortnight"}, "FRAMEQ_CREATE_RATE"},
		{nil, []string{"FRAMEQ_CALL_RATE=-1"}, "FRAMEQ_CALL_RATE"},
		{nil, []string{"FRAMEQ_LOG_FORMAT=xml"}, "FRAMEQ_LOG_FORMAT"},
		{nil, []string{"FRAMEQ_RATE_MARGIN=0.9"}, "FRAMEQ_RATE_MARGIN"},
		{nil, []string{"FRAMEQ_TASK_TIMEOUT=soon"}, "FRAMEQ_TASK_TIMEOUT"},
		{nil, []string{"FRAMEQ_REDIS_URL=http://x"}, "FRAMEQ_REDIS_URL"},
		{nil, []string{"FRAMEQ_TOKEN_B@D=x"}, "FRAMEQ_TOKEN_B@D"},
		{[]string{"-max-retry", "x"}, nil, "-max-retry"},
		{[]string{"-no-such-flag"}, nil, "no-such-flag"},
	}
	for _, c := range cases {
		_, err := load(t, c.args, c.env, Redis, Worker)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("args %v env %v: error %v, want one naming %s", c.args, c.env, err, c.want)
		}
	}
}

func TestTokensFileAndSecretsNotInErrors(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "tokens")
	os.WriteFile(p, []byte("# refs\nacme = secret-acme\n\nbeta=secret-beta\n"), 0o600)
	c, err := load(t, nil, []string{"FRAMEQ_TOKENS_FILE=" + p, "FRAMEQ_TOKEN_BETA=env-wins"}, Redis, Worker)
	if err != nil {
		t.Fatal(err)
	}
	if c.Tokens["acme"] != "secret-acme" || c.Tokens["beta"] != "env-wins" {
		t.Errorf("tokens file not applied as expected: refs %v", c.TokenRefs())
	}
	os.WriteFile(p, []byte("acme=ok\nthis line has secret-value but no equals\n"), 0o600)
	_, err = load(t, nil, []string{"FRAMEQ_TOKENS_FILE=" + p}, Redis, Worker)
	if err == nil || !strings.Contains(err.Error(), "line 2") || strings.Contains(err.Error(), "secret-value") {
		t.Errorf("bad tokens file: %v; want line 2 named and no content echoed", err)
	}
}

func TestRedisPasswordIsRedacted(t *testing.T) {
	c := Default()
	c.RedisURL = "redis://user:hunter2@host:6379/0"
	if strings.Contains(c.Redacted(), "hunter2") {
		t.Errorf("Redacted() = %q", c.Redacted())
	}
	if got, want := c.Redacted(), "redis://[REDACTED]@host:6379/0"; got != want {
		t.Errorf("Redacted() = %q, want %q", got, want)
	}
	_, err := load(t, nil, []string{"FRAMEQ_REDIS_URL=http://u:hunter2@h"}, Redis)
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %v leaks the password", err)
	}
	// A URL net/url refuses: its error quotes the URL, password and all.
	c.RedisURL = "redis://u:hunter2@h:badport/0"
	_, err = c.RedisClient(1)
	_, err2 := c.AsynqRedis()
	for _, err := range []error{err, err2} {
		if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "redis://[REDACTED]@h:badport/0") || !strings.Contains(err.Error(), "badport") {
			t.Errorf("error %v: want the redacted URL and the reason, no password", err)
		}
	}
}

func TestParseRate(t *testing.T) {
	good := map[string]Rate{"5": {5, time.Second}, "5/s": {5, time.Second}, "300/m": {300, time.Minute}, "100/90s": {100, 90 * time.Second}}
	for in, want := range good {
		if got, err := ParseRate(in); err != nil || got != want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "x/s", "5/", "5/0s", "5/-1s", "5/y"} {
		if _, err := ParseRate(in); err == nil {
			t.Errorf("ParseRate(%q) accepted", in)
		}
	}
}

func FuzzLoad(f *testing.F) {
	f.Add("FRAMEQ_CREATE_RATE", "5/s")
	f.Add("FRAMEQ_CONCURRENCY", "12")
	f.Add("FRAMEQ_TOKEN_X", "y")
	f.Fuzz(func(t *testing.T, name, value string) {
		c := Default()
		fs := flag.NewFlagSet("fuzz", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		err := c.Load(fs, nil, []string{name + "=" + value}, Redis, Worker)
		if err != nil && err.Error() == "" {
			t.Fatal("empty error")
		}
	})
}

func TestCompletedRetentionAndSecretKeyForEnqueue(t *testing.T) {
	c, err := load(t, nil, nil, Redis, Enqueue)
	if err != nil || c.CompletedRetention != time.Hour || c.SecretKey != nil {
		t.Fatalf("defaults: retention %v key set %v err %v; want 1h, no key", c.CompletedRetention, c.SecretKey != nil, err)
	}
	key := "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=" // 32 bytes 0..31
	c, err = load(t, []string{"-completed-retention", "0"}, []string{"FRAMEQ_COMPLETED_RETENTION=2h", "FRAMEQ_SECRET_KEY=" + key}, Redis, Enqueue)
	if err != nil || c.CompletedRetention != 0 || len(c.SecretKey) != 32 || c.SecretKey[31] != 31 {
		t.Fatalf("flag 0 over env 2h, key: retention %v key %d bytes err %v", c.CompletedRetention, len(c.SecretKey), err)
	}
	for _, env := range [][]string{{"FRAMEQ_COMPLETED_RETENTION=-1h"}, {"FRAMEQ_COMPLETED_RETENTION=day"}, {"FRAMEQ_SECRET_KEY=short"}} {
		name, _, _ := strings.Cut(env[0], "=")
		if _, err := load(t, nil, env, Redis, Enqueue); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%v: error %v, want one naming %s", env, err, name)
		}
	}
}
