package api

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/didrouter/didrouter"
)

// Page sizes, as TaskRouter allows them.
const (
	defaultPageSize = 50
	maxPageSize     = 1000
)

// pageRequest is a list request's paging. Page is the index shown in meta.
// PageToken is the sid of the previous page's last item, because keyset
// paging stays correct while rows are added.
type pageRequest struct {
	Size  int
	Index int
	Token string
}

// parsePage reads the paging of a list request.
func parsePage(r *http.Request) (pageRequest, error) {
	q := r.URL.Query()
	p := pageRequest{Size: defaultPageSize}
	if s := q.Get("PageSize"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxPageSize {
			return p, didrouter.Errorf(didrouter.EINVALID, "PageSize must be between 1 and %d, not %q", maxPageSize, s)
		}
		p.Size = n
	}
	if s := q.Get("Page"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return p, didrouter.Errorf(didrouter.EINVALID, "Page must be a number from 0, not %q", s)
		}
		p.Index = n
	}
	p.Token = q.Get("PageToken")
	if p.Token != "" && !isSID(p.Token) {
		return p, didrouter.Errorf(didrouter.EINVALID, "PageToken %q is not valid", p.Token)
	}
	if p.Token == "" && p.Index > 0 {
		return p, didrouter.Errorf(didrouter.EINVALID, "Page %d needs the PageToken of the page before it", p.Index)
	}
	return p, nil
}

// oldestFirst refuses an Ordering other than DateCreated:asc, the one
// order of the lists that have no other.
func oldestFirst(q url.Values) error {
	if o := q.Get("Ordering"); o != "" && o != "DateCreated:asc" {
		return didrouter.Errorf(didrouter.EINVALID, "Ordering %q is not supported (DateCreated:asc)", o)
	}
	return nil
}

// storePage is what to ask the store for: one row more than the page, to
// learn whether a next page exists.
func (p pageRequest) storePage() didrouter.Page {
	return didrouter.Page{Size: p.Size + 1, After: p.Token}
}

// cut trims rows fetched with storePage to the page and returns the token
// of the next page ("" when this is the last page). The store caps a page
// at maxPageSize rows, so a full page of that size may have a successor.
func cut[T any](rows []T, p pageRequest, sid func(T) string) ([]T, string) {
	if len(rows) > p.Size || (p.Size >= maxPageSize && len(rows) == p.Size) {
		rows = rows[:p.Size]
		return rows, sid(rows[len(rows)-1])
	}
	return rows, ""
}

// pageOf pages a complete list in memory, the same way the store pages.
func pageOf[T any](all []T, p pageRequest, sid func(T) string) ([]T, string) {
	start := 0
	if p.Token != "" {
		start = len(all)
		for i, v := range all {
			if sid(v) == p.Token {
				start = i + 1
				break
			}
		}
	}
	rest := all[start:]
	if len(rest) > p.Size {
		return rest[:p.Size], sid(rest[p.Size-1])
	}
	return rest, ""
}

// meta is a list's paging block.
type meta struct {
	Page            int     `json:"page"`
	PageSize        int     `json:"page_size"`
	FirstPageURL    string  `json:"first_page_url"`
	PreviousPageURL *string `json:"previous_page_url"`
	NextPageURL     *string `json:"next_page_url"`
	URL             string  `json:"url"`
	Key             string  `json:"key"`
}

// listMeta builds meta for a page of the list at r's path; filters in the
// query are kept in every link. Keyset tokens only lead forward, so
// previous_page_url is always null.
func (h *Handler) listMeta(r *http.Request, key string, p pageRequest, next string) meta {
	link := func(index int, token string) string {
		q := url.Values{}
		for k, v := range r.URL.Query() {
			if k != "Page" && k != "PageToken" && k != "PageSize" {
				q[k] = v
			}
		}
		q.Set("PageSize", strconv.Itoa(p.Size))
		q.Set("Page", strconv.Itoa(index))
		if token != "" {
			q.Set("PageToken", token)
		}
		return h.baseURL(r) + r.URL.Path + "?" + q.Encode()
	}
	m := meta{
		Page:         p.Index,
		PageSize:     p.Size,
		FirstPageURL: link(0, ""),
		URL:          link(p.Index, p.Token),
		Key:          key,
	}
	if next != "" {
		n := link(p.Index+1, next)
		m.NextPageURL = &n
	}
	return m
}

// isSID reports whether s looks like a sid: two letters and 32 hex digits.
func isSID(s string) bool { return didrouter.IsSID(s, "") }

// listPage reads one page of a store list. fetch reads a page of the
// store; match, when not nil, keeps only the rows it accepts (see
// scanPage). none answers an empty page without reading: a filter named
// something that does not exist.
func listPage[T any](p pageRequest, none bool, fetch func(didrouter.Page) ([]T, error), match func(T) bool, sid func(T) string) ([]T, string, error) {
	switch {
	case none:
		return nil, "", nil
	case match == nil:
		rows, err := fetch(p.storePage())
		if err != nil {
			return nil, "", err
		}
		page, next := cut(rows, p, sid)
		return page, next, nil
	default:
		return scanPage(p, fetch, match, sid)
	}
}

// scanPage collects one page of the rows keep accepts, reading rows after
// the page token in chunks of the store's largest page. It serves filters
// the store cannot apply (expressions over attributes) with the same keyset
// tokens as store-filtered lists. A filter that matches little reads many
// rows; each chunk is one indexed range read.
func scanPage[T any](p pageRequest, fetch func(didrouter.Page) ([]T, error), keep func(T) bool, sid func(T) string) ([]T, string, error) {
	out := make([]T, 0, min(p.Size, 64))
	after := p.Token
	for {
		rows, err := fetch(didrouter.Page{Size: maxPageSize, After: after})
		if err != nil {
			return nil, "", err
		}
		for _, v := range rows {
			if !keep(v) {
				continue
			}
			if len(out) == p.Size {
				return out, sid(out[len(out)-1]), nil
			}
			out = append(out, v)
		}
		if len(rows) < maxPageSize {
			return out, "", nil
		}
		after = sid(rows[len(rows)-1])
	}
}

// keep returns the rows for which ok holds, in a new slice, so the list the
// store returned is left as it was.
func keep[T any](rows []T, ok func(T) bool) []T {
	out := rows[:0:0]
	for _, r := range rows {
		if ok(r) {
			out = append(out, r)
		}
	}
	return out
}
