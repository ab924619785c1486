package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// storm: many concurrent deliveries of one event.
func (x *h) storm() error {
	n := ids.Add(1)
	tr := &http.Transport{MaxIdleConnsPerHost: x.o.storm + 16, DisableCompression: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 60 * time.Second}
	m0, err := x.scrape()
	if err != nil {
		return err
	}
	calls0 := x.fake.calls.Load()
	reqs := make([]*http.Request, x.o.storm)
	for i := range reqs {
		if reqs[i], err = x.src.request(x.dhT.base, x.dhT.host, n); err != nil {
			return err
		}
	}
	type answer struct {
		code   int
		status string
		id     string
	}
	answers := make([]answer, len(reqs))
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range reqs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-gate
			resp, err := hc.Do(reqs[i])
			if err != nil {
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			var a struct {
				Status  string `json:"status"`
				EventID string `json:"event_id"`
			}
			_ = json.Unmarshal(b, &a)
			answers[i] = answer{resp.StatusCode, a.Status, a.EventID}
		}(i)
	}
	start := time.Now()
	close(gate)
	wg.Wait()
	elapsed := time.Since(start)
	m1, err := x.drained(30 * time.Second)
	if err != nil {
		return err
	}
	time.Sleep(200 * time.Millisecond)
	st := stormResult{Deliveries: len(reqs), Seconds: round(elapsed.Seconds(), 2), Statuses: map[string]int{}, SOAP: x.src.p.soap}
	var id string
	for _, a := range answers {
		st.Statuses[strconv.Itoa(a.code)+" "+a.status]++
		switch {
		case x.src.p.soap && a.code == http.StatusOK:
			st.Acked++ // a SOAP Ack: new and duplicate look alike
		case a.code == x.src.p.wantStatus && a.status != "duplicate":
			st.New++
			id = a.id
		case a.code == http.StatusOK && a.status == "duplicate":
			st.Duplicates++
		default:
			st.Other++
		}
	}
	st.CallsPlaced = int(x.fake.calls.Load() - calls0)
	st.DialsCounted = int(m1.sum("dialhook_dials_total") - m0.sum("dialhook_dials_total"))
	if id != "" {
		if e, err := x.event(id); err == nil {
			st.EventAttempts, st.EventDuplicates, st.EventState = e.Attempts, e.Duplicates, e.State
		}
	}
	x.rep.Storm = st
	x.logf("duplicate storm: %d deliveries in %.2fs → %d new, %d duplicate, %d other; %d call(s) placed; answers %v",
		st.Deliveries, st.Seconds, st.New, st.Duplicates, st.Other, st.CallsPlaced, st.Statuses)
	return nil
}

type eventView struct {
	State      string `json:"state"`
	Attempts   int    `json:"attempts"`
	Duplicates int    `json:"duplicates"`
}

func (x *h) event(id string) (*eventView, error) {
	req, err := http.NewRequest(http.MethodGet, x.dhT.base+"/events/"+id, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+x.admin)
	resp, err := x.scrapeC.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /events/%s: HTTP %d", id, resp.StatusCode)
	}
	var e eventView
	return &e, json.NewDecoder(resp.Body).Decode(&e)
}
