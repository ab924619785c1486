package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

var _ DNC = (*Redis)(nil)

// The do-not-call list is a hash (number → entry) and a lexical sorted set
// of the numbers (for listing by prefix), under one hash tag: added and
// removed together in a transaction. A flag key says the list was ever
// used; each replica reads it at most once a second, and checks numbers
// only once it is set (a deployment without a list pays nothing).

// dncState caches whether the list is in use.
type dncState struct {
	on   atomic.Bool
	read atomic.Int64 // unix ns of the last read of the flag
}

// dncOn reports whether numbers must be checked.
func (r *Redis) dncOn(ctx context.Context) bool {
	if r.dnc.on.Load() {
		return true
	}
	if last := r.dnc.read.Load(); time.Since(time.Unix(0, last)) > time.Second && r.dnc.read.CompareAndSwap(last, time.Now().UnixNano()) {
		if n, err := r.rdb.Exists(ctx, r.k.dncFlag()).Result(); err == nil && n == 1 {
			r.dnc.on.Store(true)
		}
	}
	return r.dnc.on.Load()
}

// DNCAdd implements DNC.
func (r *Redis) DNCAdd(ctx context.Context, entries []DNCEntry) error {
	if len(entries) == 0 {
		return nil
	}
	pipe := r.rdb.TxPipeline()
	pipe.Set(ctx, r.k.dncFlag(), 1, 0)
	for _, e := range entries {
		doc, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("store: encode: %w", err)
		}
		pipe.HSetNX(ctx, r.k.dncAt(), e.Number, doc)
		pipe.ZAdd(ctx, r.k.dncIdx(), redis.Z{Member: e.Number})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return r.wrap(err)
	}
	r.dnc.on.Store(true)
	return nil
}

// DNCRemove implements DNC.
func (r *Redis) DNCRemove(ctx context.Context, number string) (bool, error) {
	pipe := r.rdb.TxPipeline()
	del := pipe.HDel(ctx, r.k.dncAt(), number)
	pipe.ZRem(ctx, r.k.dncIdx(), number)
	if _, err := pipe.Exec(ctx); err != nil {
		return false, r.wrap(err)
	}
	return del.Val() == 1, nil
}

// DNCGet implements DNC.
func (r *Redis) DNCGet(ctx context.Context, number string) (*DNCEntry, error) {
	doc, err := r.rdb.HGet(ctx, r.k.dncAt(), number).Result()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, r.wrap(err)
	}
	var e DNCEntry
	if err := json.Unmarshal([]byte(doc), &e); err != nil {
		return nil, fmt.Errorf("store: corrupt do-not-call entry: %w", err)
	}
	return &e, nil
}

// DNCList implements DNC.
func (r *Redis) DNCList(ctx context.Context, prefix, after string, limit int) ([]DNCEntry, string, error) {
	from := "[" + prefix
	if after != "" && after >= prefix {
		from = "(" + after
	}
	nums, err := r.rdb.ZRangeByLex(ctx, r.k.dncIdx(), &redis.ZRangeBy{Min: from, Max: "[" + prefix + "\xff", Count: int64(limit) + 1}).Result()
	if err != nil {
		return nil, "", r.wrap(err)
	}
	more := len(nums) > limit
	nums = nums[:min(len(nums), limit)]
	if len(nums) == 0 {
		return nil, "", nil
	}
	docs, err := r.rdb.HMGet(ctx, r.k.dncAt(), nums...).Result()
	if err != nil {
		return nil, "", r.wrap(err)
	}
	out := make([]DNCEntry, 0, len(nums))
	for i, d := range docs {
		e := DNCEntry{Number: nums[i]}
		if s, ok := d.(string); ok {
			_ = json.Unmarshal([]byte(s), &e)
		}
		out = append(out, e)
	}
	if more {
		return out, nums[len(nums)-1], nil
	}
	return out, "", nil
}

// applyRules turns a dialable submission Blocked or Capped, before its
// accept script: the list's and the cap's keys are not the event's.
func (r *Redis) applyRules(ctx context.Context, s *Submission) error {
	if s.AddDNC && s.Destination != "" {
		if err := r.DNCAdd(ctx, []DNCEntry{dncEntryOf(s)}); err != nil {
			return err
		}
	}
	if !dialable(s) {
		return nil
	}
	if r.dncOn(ctx) {
		e, err := r.DNCGet(ctx, s.Destination)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		if e != nil {
			ruleChecked(s, e, false)
			return nil
		}
	}
	if c := s.Cap; c != nil && c.Max > 0 {
		member := cmp.Or(s.DedupKey, s.Event.ID)
		ok, err := capScript.Run(ctx, r.rdb, []string{r.k.capKey(s.Destination)}, ms(time.Now()), c.Per.Milliseconds(), c.Max, member).Int()
		if err != nil {
			return r.wrap(err)
		}
		ruleChecked(s, nil, ok == 0)
	}
	return nil
}

// Listed answers the do-not-call entry of a number right before its call
// (nil when not listed, or the list was never used).
func (r *Redis) Listed(ctx context.Context, number string) (*DNCEntry, error) {
	if number == "" || !r.dncOn(ctx) {
		return nil, nil
	}
	e, err := r.DNCGet(ctx, number)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	return e, err
}
