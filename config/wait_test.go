package config

import (
	"strings"
	"testing"
	"time"
)

func TestGuardReplicasFollowTheTopologyUnlessSet(t *testing.T) {
	sentinel := []string{"FRAMEQ_REDIS_SENTINEL_ADDRS=s1:26379", "FRAMEQ_REDIS_SENTINEL_MASTER=m", "FRAMEQ_TOKEN=t"}
	for _, c := range []struct {
		name    string
		args    []string
		environ []string
		want    int
	}{
		{"single, auto", nil, []string{"FRAMEQ_REDIS_URL=redis://h:1/0", "FRAMEQ_TOKEN=t"}, 0},
		{"sentinel, auto", nil, sentinel, 1},
		{"sentinel, off", nil, append([]string{"FRAMEQ_REDIS_WAIT_REPLICAS=0"}, sentinel...), 0},
		{"sentinel, flag 2", []string{"-redis-wait-replicas", "2"}, sentinel, 2},
		{"single, 1", nil, []string{"FRAMEQ_REDIS_WAIT_REPLICAS=1", "FRAMEQ_TOKEN=t"}, 1},
	} {
		cfg, err := load(t, c.args, c.environ, Redis, Worker)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := cfg.GuardReplicas(); got != c.want {
			t.Errorf("%s: GuardReplicas %d, want %d", c.name, got, c.want)
		}
	}
	cfg, err := load(t, nil, []string{"FRAMEQ_REDIS_WAIT_TIMEOUT=250ms", "FRAMEQ_TOKEN=t"}, Redis, Worker)
	if err != nil || cfg.RedisWaitTimeout != 250*time.Millisecond {
		t.Errorf("FRAMEQ_REDIS_WAIT_TIMEOUT=250ms: %v, %v", cfg.RedisWaitTimeout, err)
	}
}

func TestBadWaitSettingsNameTheVariable(t *testing.T) {
	for _, kv := range []string{
		"FRAMEQ_REDIS_WAIT_REPLICAS=-1", "FRAMEQ_REDIS_WAIT_REPLICAS=17", "FRAMEQ_REDIS_WAIT_REPLICAS=one",
		"FRAMEQ_REDIS_WAIT_TIMEOUT=3s", "FRAMEQ_REDIS_WAIT_TIMEOUT=0s", "FRAMEQ_REDIS_WAIT_TIMEOUT=soon",
	} {
		_, err := load(t, nil, []string{kv, "FRAMEQ_TOKEN=t"}, Redis, Worker)
		name, _, _ := strings.Cut(kv, "=")
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error %v, want one naming %s", kv, err, name)
		}
	}
}
