package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// notifyGroup is the notification queues' consumer group.
const notifyGroup = "dialhook-notify"

var _ Notifier = (*Redis)(nil)

// NextJobs implements Notifier.
func (r *Redis) NextJobs(ctx context.Context, consumer string, shard, count int, block time.Duration) ([]Job, error) {
	sk := r.k.shards[shard]
	if block <= 0 {
		block = -1
	}
	res, err := r.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group: notifyGroup, Consumer: consumer, Streams: []string{sk.nq(), ">"}, Count: int64(max(count, 1)), Block: block,
	}).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, nil
	case redis.HasErrorPrefix(err, "NOGROUP"):
		return nil, r.wrap(r.rdb.XGroupCreateMkStream(ctx, sk.nq(), notifyGroup, "0").Err())
	case err != nil:
		return nil, r.wrap(err)
	}
	var out []Job
	for _, s := range res {
		out = append(out, toJobs(shard, s.Messages)...)
	}
	return out, nil
}

func toJobs(shard int, msgs []redis.XMessage) []Job {
	out := make([]Job, 0, len(msgs))
	for _, m := range msgs {
		j := Job{Shard: shard, Ref: m.ID}
		j.EventID, _ = m.Values["id"].(string)
		j.Type, _ = m.Values["type"].(string)
		j.Endpoint, _ = m.Values["ep"].(string)
		tries, _ := m.Values["tries"].(string)
		j.Tries, _ = strconv.Atoi(tries)
		if first, _ := m.Values["first"].(string); first != "" {
			if v, err := strconv.ParseInt(first, 10, 64); err == nil {
				j.First = time.UnixMilli(v).UTC()
			}
		}
		if j.First.IsZero() {
			if v, err := strconv.ParseInt(strings.SplitN(m.ID, "-", 2)[0], 10, 64); err == nil {
				j.First = time.UnixMilli(v).UTC() // queued then
			}
		}
		out = append(out, j)
	}
	return out
}

// ReclaimJobs implements Notifier.
func (r *Redis) ReclaimJobs(ctx context.Context, consumer string, shard int, idle time.Duration) ([]Job, error) {
	msgs, _, err := r.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
		Stream: r.k.shards[shard].nq(), Group: notifyGroup, Consumer: consumer, MinIdle: idle, Start: "0-0", Count: 100,
	}).Result()
	if errors.Is(err, redis.Nil) || redis.HasErrorPrefix(err, "NOGROUP") {
		return nil, nil
	}
	if err != nil {
		return nil, r.wrap(err)
	}
	return toJobs(shard, msgs), nil
}

// DoneJob implements Notifier.
func (r *Redis) DoneJob(ctx context.Context, j Job) error {
	sk := r.k.shards[j.Shard]
	pipe := r.rdb.TxPipeline()
	pipe.XAck(ctx, sk.nq(), notifyGroup, j.Ref)
	pipe.XDel(ctx, sk.nq(), j.Ref)
	_, err := pipe.Exec(ctx)
	return r.wrap(err)
}

// RetryJob implements Notifier: the retry waits in the shard's due set
// (member: the job as JSON) and the entry is acknowledged, in one
// transaction (one slot).
func (r *Redis) RetryJob(ctx context.Context, j Job, retry Job, at time.Time) error {
	sk := r.k.shards[j.Shard]
	member, err := json.Marshal(retryMember{retry.EventID, retry.Type, retry.Endpoint, retry.Tries, ms(retry.First)})
	if err != nil {
		return fmt.Errorf("store: encode: %w", err)
	}
	pipe := r.rdb.TxPipeline()
	pipe.ZAdd(ctx, sk.nqDue(), redis.Z{Score: float64(ms(at)), Member: string(member)})
	pipe.XAck(ctx, sk.nq(), notifyGroup, j.Ref)
	pipe.XDel(ctx, sk.nq(), j.Ref)
	_, err = pipe.Exec(ctx)
	return r.wrap(err)
}

type retryMember struct {
	ID    string `json:"id"`
	Type  string `json:"t"`
	EP    string `json:"ep"`
	Tries int    `json:"n"`
	First int64  `json:"f"`
}

// PromoteJobs implements Notifier: due retries go back in their queue, by
// promoteJobsScript (ZRANGEBYSCORE, XADD, ZREM in one step per shard).
func (r *Redis) PromoteJobs(ctx context.Context, now time.Time) (int, error) {
	n := 0
	for _, sk := range r.k.shards {
		v, err := promoteJobsScript.Run(ctx, r.rdb, []string{sk.nqDue(), sk.nq()}, ms(now), 100).Int()
		if err != nil {
			return n, r.wrap(err)
		}
		n += v
	}
	return n, nil
}

// RecordAttempt implements Notifier: a list per event, capped.
func (r *Redis) RecordAttempt(ctx context.Context, eventID string, a NotifyAttempt) error {
	sk, ok := r.k.of(eventID)
	if !ok {
		return ErrNotFound
	}
	doc, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("store: encode: %w", err)
	}
	pipe := r.rdb.TxPipeline()
	pipe.RPush(ctx, sk.notifs(eventID), doc)
	pipe.LTrim(ctx, sk.notifs(eventID), -maxNotifyAttempts, -1)
	_, err = pipe.Exec(ctx)
	return r.wrap(err)
}

// decodeAttempts reads an event's notification attempts as kept by
// RecordAttempt (one that does not decode is left out).
func decodeAttempts(docs []string) []NotifyAttempt {
	var out []NotifyAttempt
	for _, d := range docs {
		var a NotifyAttempt
		if json.Unmarshal([]byte(d), &a) == nil {
			out = append(out, a)
		}
	}
	return out
}

// DisableEndpoint implements Notifier.
func (r *Redis) DisableEndpoint(ctx context.Context, key string) error {
	return r.wrap(r.rdb.Set(ctx, r.k.endpointOff(key), "410", 0).Err())
}

// EndpointDisabled implements Notifier.
func (r *Redis) EndpointDisabled(ctx context.Context, key string) (bool, error) {
	n, err := r.rdb.Exists(ctx, r.k.endpointOff(key)).Result()
	return n == 1, r.wrap(err)
}
