package config

import (
	"reflect"
	"strings"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

func TestRedisTopologies(t *testing.T) {
	t.Run("cluster", func(t *testing.T) {
		c, err := load(t, nil, []string{"FRAMEQ_REDIS_CLUSTER_ADDRS=10.0.0.1:7000, 10.0.0.2:7000", "FRAMEQ_REDIS_PASSWORD=pw"}, Redis)
		if err != nil {
			t.Fatal(err)
		}
		rdb, err := c.RedisClient(50)
		if err != nil {
			t.Fatal(err)
		}
		defer rdb.Close()
		cc, ok := rdb.(*redis.ClusterClient)
		if !ok {
			t.Fatalf("RedisClient is %T, want *redis.ClusterClient", rdb)
		}
		if o := cc.Options(); !reflect.DeepEqual(o.Addrs, []string{"10.0.0.1:7000", "10.0.0.2:7000"}) || o.Password != "pw" || o.PoolSize != 50 {
			t.Errorf("cluster options: addrs %v, password set %t, pool %d", o.Addrs, o.Password == "pw", o.PoolSize)
		}
		opt, err := c.AsynqRedis()
		if err != nil {
			t.Fatal(err)
		}
		want := asynq.RedisClusterClientOpt{Addrs: []string{"10.0.0.1:7000", "10.0.0.2:7000"}, Password: "pw"}
		if !reflect.DeepEqual(opt, want) {
			t.Errorf("AsynqRedis = %T %+v", opt, opt)
		}
		if strings.Contains(c.Redacted(), "pw") || !strings.Contains(c.Redacted(), "10.0.0.2:7000") {
			t.Errorf("Redacted() = %q", c.Redacted())
		}
	})
	t.Run("sentinel", func(t *testing.T) {
		c, err := load(t, []string{"-redis-sentinel-master", "mymaster"}, []string{
			"FRAMEQ_REDIS_SENTINEL_ADDRS=s1:26379,s2:26379,s3:26379",
			"FRAMEQ_REDIS_PASSWORD=pw", "FRAMEQ_REDIS_SENTINEL_PASSWORD=spw",
		}, Redis)
		if err != nil {
			t.Fatal(err)
		}
		rdb, err := c.RedisClient(5)
		if err != nil {
			t.Fatal(err)
		}
		defer rdb.Close()
		if _, ok := rdb.(*redis.Client); !ok {
			t.Errorf("RedisClient is %T, want the *redis.Client of NewFailoverClient", rdb)
		}
		opt, err := c.AsynqRedis()
		if err != nil {
			t.Fatal(err)
		}
		want := asynq.RedisFailoverClientOpt{MasterName: "mymaster", SentinelAddrs: []string{"s1:26379", "s2:26379", "s3:26379"}, Password: "pw", SentinelPassword: "spw"}
		if !reflect.DeepEqual(opt, want) {
			t.Errorf("AsynqRedis = %T %+v", opt, opt)
		}
	})
	t.Run("single", func(t *testing.T) {
		c, err := load(t, nil, []string{"FRAMEQ_REDIS_URL=redis://h:6380/3", "FRAMEQ_REDIS_PASSWORD=pw"}, Redis)
		if err != nil {
			t.Fatal(err)
		}
		rdb, err := c.RedisClient(5)
		if err != nil {
			t.Fatal(err)
		}
		defer rdb.Close()
		if o := rdb.(*redis.Client).Options(); o.Addr != "h:6380" || o.DB != 3 || o.Password != "pw" {
			t.Errorf("single options: %s db %d, password set %t", o.Addr, o.DB, o.Password == "pw")
		}
		opt, err := c.AsynqRedis()
		if err != nil {
			t.Fatal(err)
		}
		if o, ok := opt.(asynq.RedisClientOpt); !ok || o.Addr != "h:6380" || o.DB != 3 || o.Password != "pw" {
			t.Errorf("AsynqRedis = %T", opt)
		}
	})
}

func TestContradictoryRedisSettingsNameTheVariables(t *testing.T) {
	cases := []struct {
		args, env []string
		want      []string
	}{
		{nil, []string{"FRAMEQ_REDIS_URL=redis://h:1/0", "FRAMEQ_REDIS_CLUSTER_ADDRS=h:2"}, []string{"FRAMEQ_REDIS_URL", "FRAMEQ_REDIS_CLUSTER_ADDRS"}},
		{[]string{"-redis-url", "redis://h:1/0"}, []string{"FRAMEQ_REDIS_SENTINEL_ADDRS=h:2", "FRAMEQ_REDIS_SENTINEL_MASTER=m"}, []string{"FRAMEQ_REDIS_URL", "FRAMEQ_REDIS_SENTINEL_ADDRS"}},
		{nil, []string{"FRAMEQ_REDIS_CLUSTER_ADDRS=h:1", "FRAMEQ_REDIS_SENTINEL_ADDRS=h:2", "FRAMEQ_REDIS_SENTINEL_MASTER=m"}, []string{"FRAMEQ_REDIS_CLUSTER_ADDRS", "FRAMEQ_REDIS_SENTINEL_ADDRS"}},
		{nil, []string{"FRAMEQ_REDIS_SENTINEL_ADDRS=h:2"}, []string{"FRAMEQ_REDIS_SENTINEL_MASTER"}},
		{nil, []string{"FRAMEQ_REDIS_SENTINEL_MASTER=m"}, []string{"FRAMEQ_REDIS_SENTINEL_ADDRS"}},
		{nil, []string{"FRAMEQ_REDIS_SENTINEL_PASSWORD=x"}, []string{"FRAMEQ_REDIS_SENTINEL_PASSWORD"}},
		{nil, []string{"FRAMEQ_REDIS_CLUSTER_ADDRS=h:1,,h:2"}, []string{"FRAMEQ_REDIS_CLUSTER_ADDRS"}},
		{nil, []string{"FRAMEQ_REDIS_CLUSTER_ADDRS=h"}, []string{"FRAMEQ_REDIS_CLUSTER_ADDRS"}},
		{nil, []string{"FRAMEQ_REDIS_SENTINEL_ADDRS=h:99999", "FRAMEQ_REDIS_SENTINEL_MASTER=m"}, []string{"FRAMEQ_REDIS_SENTINEL_ADDRS"}},
		{[]string{"-redis-cluster-addrs", ":7000"}, nil, []string{"redis-cluster-addrs"}},
		{nil, []string{"FRAMEQ_REDIS_URL=redis://:hunter2@h:1/0", "FRAMEQ_REDIS_PASSWORD=hunter3"}, []string{"FRAMEQ_REDIS_PASSWORD", "FRAMEQ_REDIS_URL"}},
	}
	for _, c := range cases {
		_, err := load(t, c.args, c.env, Redis)
		if err == nil {
			t.Errorf("args %v env %v: accepted", c.args, c.env)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("args %v env %v: error %q does not name %s", c.args, c.env, err, w)
			}
		}
		if strings.Contains(err.Error(), "hunter") {
			t.Errorf("error %q leaks a password", err)
		}
	}
}

// The passwords are never flags: a flag is visible to every user in ps.
func TestRedisPasswordsAreNotFlags(t *testing.T) {
	for _, f := range []string{"-redis-password", "-redis-sentinel-password"} {
		if _, err := load(t, []string{f, "x"}, nil, Redis); err == nil {
			t.Errorf("%s accepted as a flag", f)
		}
	}
}
