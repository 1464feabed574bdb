package redistest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// clusterSlots is the number of hash slots of a Redis Cluster.
const clusterSlots = 16384

// Cluster is a Redis Cluster of masters without replicas, one redis-server
// per master on 127.0.0.1, with the slots split evenly between them.
//
//	c := redistest.StartCluster(t, 3)    // stopped by t.Cleanup
//	rdb := c.Client(t)                   // *redis.ClusterClient
//	addrs := c.Addrs()                   // for FRAMEQ_REDIS_CLUSTER_ADDRS
//
// It needs redis-server 7 or later (CLUSTER ADDSLOTSRANGE, cluster-port).
type Cluster struct {
	// Nodes are the masters, in slot order: Nodes[0] serves slot 0.
	Nodes []*Server
}

// StartCluster starts a cluster of masters for tb and registers its
// shutdown with tb.Cleanup.
func StartCluster(tb testing.TB, masters int) *Cluster {
	tb.Helper()
	c, err := NewCluster(masters)
	if err != nil {
		tb.Fatalf("redistest: %v", err)
	}
	tb.Cleanup(c.Close)
	return c
}

// NewCluster starts a cluster of masters and waits until every node
// reports every slot served. The caller must Close it.
func NewCluster(masters int) (*Cluster, error) {
	if masters < 1 {
		return nil, fmt.Errorf("cluster of %d masters: want at least 1", masters)
	}
	c := &Cluster{}
	busPorts := make([]int, masters)
	for i := range masters {
		// The bus port would default to port+10000, which may be taken or
		// beyond 65535 for an ephemeral port: choose a free one.
		bus, err := freePort()
		if err != nil {
			c.Close()
			return nil, err
		}
		busPorts[i] = bus
		s, err := New(Options{Args: []string{
			"--cluster-enabled", "yes", "--cluster-port", strconv.Itoa(bus),
			"--cluster-node-timeout", "5000", "--cluster-config-file", "nodes.conf",
		}})
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("cluster node %d: %w", i, err)
		}
		c.Nodes = append(c.Nodes, s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.join(ctx, busPorts); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// join gives each node its share of the slots and a distinct config epoch
// (as redis-cli --cluster create does), introduces them to each other, and
// waits for the cluster to agree.
func (c *Cluster) join(ctx context.Context, busPorts []int) error {
	n := len(c.Nodes)
	for i, s := range c.Nodes {
		err := withNode(s, func(rdb *redis.Client) error {
			first, last := i*clusterSlots/n, (i+1)*clusterSlots/n-1
			if err := rdb.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", first, last).Err(); err != nil {
				return fmt.Errorf("addslotsrange %d-%d: %w", first, last, err)
			}
			return rdb.Do(ctx, "CLUSTER", "SET-CONFIG-EPOCH", i+1).Err()
		})
		if err != nil {
			return fmt.Errorf("cluster node %s: %w", s.Addr(), err)
		}
	}
	err := withNode(c.Nodes[0], func(rdb *redis.Client) error {
		for i, s := range c.Nodes[1:] {
			if err := rdb.Do(ctx, "CLUSTER", "MEET", "127.0.0.1", s.Port(), busPorts[i+1]).Err(); err != nil {
				return fmt.Errorf("meet %s: %w", s.Addr(), err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("cluster node %s: %w", c.Nodes[0].Addr(), err)
	}
	return c.waitOK(ctx)
}

// waitOK waits until every node knows every other and serves all slots.
func (c *Cluster) waitOK(ctx context.Context) error {
	want := fmt.Sprintf("cluster_known_nodes:%d", len(c.Nodes))
	var last string
	for {
		ok := true
		for _, s := range c.Nodes {
			err := withNode(s, func(rdb *redis.Client) error {
				info, err := rdb.ClusterInfo(ctx).Result()
				last = info
				if err != nil {
					return err
				}
				if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, want) ||
					!strings.Contains(info, fmt.Sprintf("cluster_slots_ok:%d", clusterSlots)) {
					return errors.New("not ready")
				}
				return nil
			})
			ok = ok && err == nil
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster not ready: %w; last CLUSTER INFO: %s", ctx.Err(), strings.Join(strings.Fields(last), " "))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func withNode(s *Server, f func(*redis.Client) error) error {
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr()})
	defer rdb.Close()
	return f(rdb)
}

// Addrs are the nodes' host:port addresses.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.Nodes))
	for i, s := range c.Nodes {
		out[i] = s.Addr()
	}
	return out
}

// Client returns a cluster client for tb, closed by tb.Cleanup.
func (c *Cluster) Client(tb testing.TB) *redis.ClusterClient {
	tb.Helper()
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	tb.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// Close stops every node and removes their data directories.
func (c *Cluster) Close() {
	for _, s := range c.Nodes {
		s.Close()
	}
}
