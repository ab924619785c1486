package handlers

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"dialhook/mapping"
	"dialhook/store"
)

// The do-not-call list's admin endpoints. Numbers are normalized with the
// destinations' phone rules (phone.default_region, phone.format), so that
// "099 123 456" and "+598 99 123 456" name the same entry.

// dncBatch is how many imported numbers are written at once: an import of
// a million numbers holds no more than this in memory.
const dncBatch = 1000

func (s *Server) dncStore() (store.DNC, error) {
	d, ok := s.store.(store.DNC)
	if !ok || s.normalize == nil {
		return nil, newError(http.StatusNotImplemented, "not_available", "this store keeps no do-not-call list")
	}
	return d, nil
}

func (s *Server) dncNumber(c echo.Context) (store.DNC, string, error) {
	d, err := s.dncStore()
	if err != nil {
		return nil, "", err
	}
	n, err := s.normalize(c.Param("number"))
	if err != nil {
		return nil, "", newError(http.StatusBadRequest, "bad_number", fmt.Sprintf("%q is not a phone number: %v", c.Param("number"), err))
	}
	return d, n, nil
}

// putDNC answers PUT /dnc/{number}.
func (s *Server) putDNC(c echo.Context) error {
	d, n, err := s.dncNumber(c)
	if err != nil {
		return err
	}
	e := store.DNCEntry{Number: n, AddedAt: s.now().UTC(), By: "api"}
	if err := d.DNCAdd(c.Request().Context(), []store.DNCEntry{e}); err != nil {
		return storeError(err, "the do-not-call list")
	}
	got, err := d.DNCGet(c.Request().Context(), n)
	if err != nil {
		return storeError(err, "the do-not-call list")
	}
	return c.JSON(http.StatusOK, got)
}

// deleteDNC answers DELETE /dnc/{number}.
func (s *Server) deleteDNC(c echo.Context) error {
	d, n, err := s.dncNumber(c)
	if err != nil {
		return err
	}
	ok, err := d.DNCRemove(c.Request().Context(), n)
	if err != nil {
		return storeError(err, "the do-not-call list")
	}
	if !ok {
		return newError(http.StatusNotFound, "not_found", n+" is not on the do-not-call list")
	}
	return c.NoContent(http.StatusNoContent)
}

// listDNC answers GET /dnc?prefix=&after=&limit=.
func (s *Server) listDNC(c echo.Context) error {
	d, err := s.dncStore()
	if err != nil {
		return err
	}
	limit := 100
	if v := c.QueryParam("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > 1000 {
			return newError(http.StatusBadRequest, "bad_limit", "limit must be 1 to 1000")
		}
	}
	entries, next, err := d.DNCList(c.Request().Context(), mapping.Digits(c.QueryParam("prefix")), c.QueryParam("after"), limit)
	if err != nil {
		return storeError(err, "the do-not-call list")
	}
	if entries == nil {
		entries = []store.DNCEntry{}
	}
	return c.JSON(http.StatusOK, map[string]any{"numbers": entries, "next": next})
}

// importDNC answers POST /dnc/import: a CSV (or one number per line)
// whose first column is a number, read as it streams in, written in
// batches. A line that is not a number is counted and reported (the first
// ten), not fatal.
func (s *Server) importDNC(c echo.Context) error {
	d, err := s.dncStore()
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	r := csv.NewReader(bufio.NewReaderSize(c.Request().Body, 64<<10))
	r.FieldsPerRecord, r.ReuseRecord = -1, true
	var batch []store.DNCEntry
	added, bad := 0, 0
	var badLines []string
	now := s.now().UTC()
	for line := 1; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return newError(http.StatusBadRequest, "bad_csv", fmt.Sprintf("line %d: %v", line, err))
		}
		raw := strings.TrimSpace(rec[0])
		if raw == "" || (line == 1 && mapping.Digits(raw) == "") {
			continue // a blank line, or a header
		}
		n, err := s.normalize(raw)
		if err != nil {
			if bad++; len(badLines) < 10 {
				badLines = append(badLines, fmt.Sprintf("line %d: %q: %v", line, raw, err))
			}
			continue
		}
		if batch = append(batch, store.DNCEntry{Number: n, AddedAt: now, By: "import"}); len(batch) == dncBatch {
			if err := d.DNCAdd(ctx, batch); err != nil {
				return storeError(err, "the do-not-call list")
			}
			added, batch = added+len(batch), batch[:0]
		}
	}
	if err := d.DNCAdd(ctx, batch); err != nil {
		return storeError(err, "the do-not-call list")
	}
	added += len(batch)
	return c.JSON(http.StatusOK, map[string]any{"imported": added, "refused": bad, "refused_lines": badLines})
}

// exportDNC answers GET /dnc/export: the whole list as CSV (number,
// added_at, by), streamed page by page.
func (s *Server) exportDNC(c echo.Context) error {
	d, err := s.dncStore()
	if err != nil {
		return err
	}
	w := c.Response()
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="dialhook-dnc.csv"`)
	w.WriteHeader(http.StatusOK)
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"number", "added_at", "by"})
	for after := ""; ; {
		entries, next, err := d.DNCList(c.Request().Context(), "", after, dncBatch)
		if err != nil {
			return nil // the status is sent: the cut CSV says it
		}
		for _, e := range entries {
			_ = cw.Write([]string{e.Number, e.AddedAt.UTC().Format(time.RFC3339), e.By})
		}
		cw.Flush()
		if next == "" {
			return cw.Error()
		}
		after = next
	}
}
