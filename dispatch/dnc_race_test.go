package dispatch_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"dialhook/dispatch"
	"dialhook/internal/testredis"
	"dialhook/store"
)

// 100 events for one number race with its addition to the do-not-call
// list, on real Redis with a dispatcher placing calls: once the addition
// is acknowledged, no call for that number is begun (a call whose check
// passed just before may still be on its way to uContact: the test allows
// it 50 ms).
func TestDoNotCallRacesWithAccepts(t *testing.T) {
	t.Parallel()
	fake := newFake(t, func(int, url.Values, http.ResponseWriter, *http.Request) (int, string) {
		time.Sleep(5 * time.Millisecond)
		return http.StatusOK, uuid.NewString()
	})
	r := newReplica(t, replicaConfig{namespace: testredis.Namespace(t), dialer: newDialer(t, fake.srv.URL, time.Second),
		opts: dispatch.Options{Workers: 4, Concurrency: 4, ClaimIdle: 5 * time.Second}})
	const number = "59899444555"
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(i) * time.Millisecond)
			deliver(t, r.url, lead(fmt.Sprint("race-", i), fmt.Sprint("agent-race-", i), number))
		}()
	}
	time.Sleep(40 * time.Millisecond)
	if err := r.st.DNCAdd(context.Background(), []store.DNCEntry{{Number: number, AddedAt: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	acked := time.Now()
	wg.Wait()
	time.Sleep(500 * time.Millisecond) // the queue drains
	late := 0
	for _, c := range fake.snapshot() {
		if c.form.Get("destination") == number && c.start.After(acked.Add(50*time.Millisecond)) {
			late++
		}
	}
	if late > 0 {
		t.Errorf("%d AgentCalls for the number started after its addition was acknowledged", late)
	}
	page, err := r.st.List(context.Background(), store.ListQuery{State: store.Blocked, Limit: 200})
	if err != nil || len(page.Events) == 0 {
		t.Errorf("blocked events = %d %v, want some", len(page.Events), err)
	}
	t.Logf("%d calls before the addition, %d blocked", len(fake.snapshot()), len(page.Events))
}
