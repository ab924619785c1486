package redisinspect

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// openCluster finds the masters of a Cluster from its seeds (CLUSTER
// SLOTS of the first seed that answers) and picks, for each, a marker key
// in a slot it holds: a script run on a master may only touch keys of its
// own slots.
func openCluster(ctx context.Context, c *redis.ClusterOptions) (*Inspector, error) {
	slots, err := clusterSlots(ctx, c)
	if err != nil {
		return nil, err
	}
	owned := map[string][][2]int{} // master address → its slot ranges
	for _, s := range slots {
		if len(s.Nodes) == 0 {
			continue
		}
		owned[s.Nodes[0].Addr] = append(owned[s.Nodes[0].Addr], [2]int{s.Start, s.End})
	}
	if len(owned) == 0 {
		return nil, errors.New("redisinspect: the Cluster has no master serving slots")
	}
	addrs := make([]string, 0, len(owned))
	for a := range owned {
		addrs = append(addrs, a)
	}
	sort.Strings(addrs)
	in := &Inspector{cluster: true}
	for _, a := range addrs {
		n := &node{opt: nodeOptions(c, a)}
		marker, err := markerIn(ctx, n.opt, owned[a])
		if err != nil {
			return nil, err
		}
		n.marker = marker
		in.nodes = append(in.nodes, n)
	}
	return in, nil
}

// clusterSlots asks the seeds in turn for the slot map.
func clusterSlots(ctx context.Context, c *redis.ClusterOptions) ([]redis.ClusterSlot, error) {
	var last error
	for _, seed := range c.Addrs {
		rdb := redis.NewClient(nodeOptions(c, seed))
		// CLUSTER SLOTS, as go-redis' own ClusterClient loads its slot map:
		// CLUSTER SHARDS needs Redis 7.
		//lint:ignore SA1019 see above
		slots, err := rdb.ClusterSlots(ctx).Result()
		_ = rdb.Close()
		if err == nil {
			for i := range slots {
				for j := range slots[i].Nodes {
					slots[i].Nodes[j].Addr = withHost(slots[i].Nodes[j].Addr, seed)
				}
			}
			return slots, nil
		}
		last = fmt.Errorf("redisinspect: CLUSTER SLOTS of %s: %w", seed, err)
	}
	if last == nil {
		last = errors.New("redisinspect: a Cluster URL without addresses")
	}
	return nil, last
}

// withHost gives an address without a host (a node that announces none)
// the seed's host, as go-redis does.
func withHost(addr, seed string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host != "" {
		return addr
	}
	seedHost, _, _ := net.SplitHostPort(seed)
	return net.JoinHostPort(seedHost, port)
}

// nodeOptions are the options of a connection to one node of the Cluster:
// the URL's credentials, TLS and timeouts, database 0.
func nodeOptions(c *redis.ClusterOptions, addr string) *redis.Options {
	o := &redis.Options{Addr: addr, Protocol: c.Protocol, Username: c.Username, Password: c.Password,
		DialTimeout: c.DialTimeout, ReadTimeout: c.ReadTimeout, WriteTimeout: c.WriteTimeout}
	if c.TLSConfig != nil {
		o.TLSConfig = c.TLSConfig.Clone()
	}
	return o
}

// markerIn returns the first of the marker keys "dialhook-bench:owner:{mN}"
// whose slot (CLUSTER KEYSLOT) is in one of ranges.
func markerIn(ctx context.Context, opt *redis.Options, ranges [][2]int) (string, error) {
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	for i := 0; i < 100000; i++ {
		key := markerKey + ":{m" + strconv.Itoa(i) + "}"
		slot, err := rdb.ClusterKeySlot(ctx, key).Result()
		if err != nil {
			return "", fmt.Errorf("redisinspect: CLUSTER KEYSLOT on %s: %w", opt.Addr, err)
		}
		for _, r := range ranges {
			if int(slot) >= r[0] && int(slot) <= r[1] {
				return key, nil
			}
		}
	}
	return "", fmt.Errorf("redisinspect: no marker key found for the slots of %s", opt.Addr)
}
