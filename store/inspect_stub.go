package store

import (
	"context"
	"time"
)

// Stubs until the implementations land (lead's work in progress).

func (m *Memory) Search(ctx context.Context, q string, limit int) ([]*Event, error) { return nil, nil }
func (m *Memory) Record(ctx context.Context, a Activity) error                      { return nil }
func (m *Memory) Refused(ctx context.Context, source string, limit int) ([]Refusal, error) {
	return nil, nil
}
func (m *Memory) Activity(ctx context.Context, sources []string, now time.Time) (map[string]SourceActivity, error) {
	return map[string]SourceActivity{}, nil
}
func (m *Memory) Health(ctx context.Context) Health { return Health{Kind: "memory", Reachable: true} }

func (r *Redis) Search(ctx context.Context, q string, limit int) ([]*Event, error) { return nil, nil }
func (r *Redis) Record(ctx context.Context, a Activity) error                      { return nil }
func (r *Redis) Refused(ctx context.Context, source string, limit int) ([]Refusal, error) {
	return nil, nil
}
func (r *Redis) Activity(ctx context.Context, sources []string, now time.Time) (map[string]SourceActivity, error) {
	return map[string]SourceActivity{}, nil
}
func (r *Redis) Health(ctx context.Context) Health { return Health{Kind: "redis", Reachable: true} }

var (
	_ Inspector = (*Memory)(nil)
	_ Inspector = (*Redis)(nil)
)
