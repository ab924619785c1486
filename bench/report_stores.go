package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// The stores step's figures, their ratios and their table.

type storesResult struct {
	IngestDuration string       `json:"ingest_run"`
	Workers        []int        `json:"ingest_workers"`
	Rows           []storeRun   `json:"rows"`
	Ratios         []storeRatio `json:"ratios"`
	Console        consoleCost  `json:"console_cost"`
}

// consoleCost is CPU per accepted request with the console on over off,
// measured in alternating pairs (see consoleCost in stores.go).
type consoleCost struct {
	Workers int       `json:"workers,omitempty"`
	Pairs   []float64 `json:"pairs,omitempty"`
	Median  float64   `json:"median,omitempty"`
}

// storeRun is one store's closed-loop ingest.
type storeRun struct {
	Kind        string       `json:"kind"` // single, cluster, local, replicated
	Store       string       `json:"store"`
	URL         string       `json:"redis_url,omitempty"` // password masked
	Masters     int          `json:"masters,omitempty"`
	Durability  string       `json:"durability,omitempty"`
	Skipped     string       `json:"skipped,omitempty"`
	Best        float64      `json:"best_accepted_per_s"`
	BestWorkers int          `json:"best_workers"`
	BestP99     float64      `json:"p99_ms_at_best"`
	Levels      []storeLevel `json:"levels"`
}

type storeLevel struct {
	Workers  int           `json:"workers"`
	Accepted float64       `json:"accepted_per_s"`
	P50      float64       `json:"p50_ms"`
	P99      float64       `json:"p99_ms"` // of the accepted requests
	OK       int64         `json:"accepted"`
	Failed   int64         `json:"failed"`
	Statuses map[int]int64 `json:"statuses,omitempty"` // when some failed; 0: no answer
	CPU      storeCPU      `json:"cpu_us_per_accepted"`
	// CPUs used by processes outside the benchmark during the run.
	OtherCores float64 `json:"other_processes_cores"`
}

// storeCPU is CPU time per accepted request, in µs, while the closed loop
// ran (the dispatcher works at the same time); Redis is the master's, or
// every master's of a Cluster summed.
type storeCPU struct {
	Dialhook float64 `json:"dialhook"`
	Redis    float64 `json:"redis_masters"`
}

// storeRatio compares two rows of the same run: accepted/s and p99 of the
// first over the second's, at each number of workers both ran.
type storeRatio struct {
	Name   string       `json:"name"` // e.g. cluster/single
	Best   float64      `json:"best_accepted_ratio"`
	Levels []levelRatio `json:"levels"`
}

type levelRatio struct {
	Workers  int     `json:"workers"`
	Accepted float64 `json:"accepted_ratio"`
	P99      float64 `json:"p99_ratio"`
	// CPU is the ratio of CPU per accepted request, dialhook's and Redis'
	// together.
	CPU float64 `json:"cpu_per_accepted_ratio"`
}

// storeRatios compares the Cluster with one Redis, and replicated with
// local durability, when both rows of a pair were measured.
func storeRatios(rows []storeRun) []storeRatio {
	kind := map[string]*storeRun{}
	for i := range rows {
		if rows[i].Skipped == "" && len(rows[i].Levels) > 0 {
			kind[rows[i].Kind] = &rows[i]
		}
	}
	var out []storeRatio
	for _, p := range [][2]string{{"cluster", "single"}, {"replicated", "local"}, {"single", "console-off"}} {
		a, b := kind[p[0]], kind[p[1]]
		if a == nil || b == nil {
			continue
		}
		r := storeRatio{Name: p[0] + "/" + p[1], Best: ratio(a.Best, b.Best)}
		for _, la := range a.Levels {
			for _, lb := range b.Levels {
				if la.Workers == lb.Workers {
					r.Levels = append(r.Levels, levelRatio{Workers: la.Workers, Accepted: ratio(la.Accepted, lb.Accepted), P99: ratio(la.P99, lb.P99),
						CPU: ratio(la.CPU.Dialhook+la.CPU.Redis, lb.CPU.Dialhook+lb.CPU.Redis)})
				}
			}
		}
		out = append(out, r)
	}
	return out
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return round(a/b, 2)
}

// printStores writes the stores step's table and its ratios.
func (r *report) printStores(w io.Writer) {
	s := r.Stores
	fmt.Fprintf(w, "\nstores: closed-loop ingest on each store, same run (%s per level; each row a dialhook of its own, dispatcher running, fake uContact answering)\n", s.IngestDuration)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "store\tworkers\taccepted/s\tp50 / p99 (accepted)\tfailed\tCPU per accepted request\tRedis URL, note")
	for _, row := range s.Rows {
		if row.Skipped != "" {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\t%s\n", row.Store, row.Skipped)
			continue
		}
		for i, l := range row.Levels {
			label, where := "", ""
			if i == 0 {
				label, where = row.Store, row.URL
			}
			failed := fmt.Sprint(l.Failed)
			if l.Failed > 0 {
				failed += fmt.Sprintf(" %v", l.Statuses)
			}
			if l.OtherCores >= 0.1 {
				where = strings.TrimSpace(fmt.Sprintf("%s [%.1f CPU busy elsewhere]", where, l.OtherCores))
			}
			fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.2f / %.2f ms\t%s\t%.0f µs + Redis %.0f µs\t%s\n",
				label, l.Workers, l.Accepted, l.P50, l.P99, failed, l.CPU.Dialhook, l.CPU.Redis, where)
		}
	}
	_ = tw.Flush()
	if len(s.Ratios) == 0 {
		return
	}
	fmt.Fprintln(w, "\nratios, same run (accepted/s and p99 of the first over the second)")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, q := range s.Ratios {
		cells := []string{q.Name, fmt.Sprintf("best accepted/s %.2f×", q.Best)}
		for _, l := range q.Levels {
			cells = append(cells, fmt.Sprintf("@%d workers: accepted/s %.2f×, p99 %.2f×, CPU per accepted %.2f×", l.Workers, l.Accepted, l.P99, l.CPU))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	_ = tw.Flush()
}

// deployment describes the Redis of --redis-url for the report's header.
func deployment(servers []string, cluster bool) string {
	if !cluster {
		return "one server"
	}
	return fmt.Sprintf("Cluster of %d masters: %s", len(servers), strings.Join(servers, ", "))
}
