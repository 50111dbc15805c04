// Package hours decides whether a workspace or a number is open: business
// hours in an IANA time zone, with weekly opening hours, dated closures
// (holidays) and one-off openings. Parse reads the JSON form the admin API
// takes; a Schedule then answers Open for any instant.
package hours

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Always is the schedule of a line that never closes (the default).
const Always = "always"

// MaxRanges bounds the closures and openings one schedule may list, and the
// ranges of one weekday, so that a stored schedule stays small.
const MaxRanges = 400

// Schedule is a parsed, valid set of business hours. The zero value (and
// a nil pointer) is always open.
type Schedule struct {
	always   bool
	zone     string
	loc      *time.Location
	weekly   [7][]span // by time.Weekday; minutes since local midnight
	closures []period
	openings []period
}

// span is a daily range in minutes since local midnight. end may be past
// 1440 for a range that ends after midnight (22:00-06:00 is 1320..1800).
type span struct{ start, end int }

// period is a dated range in local wall-clock time: a closure or an opening.
type period struct {
	from, to wall
	name     string
}

// wall is a local date and time, compared without a time zone so that a
// closure "until 2027-01-02" means that date on the local calendar, on
// either side of a daylight-saving change.
type wall struct {
	y, mo, d, mi int // minute of the day
}

func (w wall) before(o wall) bool {
	return cmpWall(w, o) < 0
}

func cmpWall(a, b wall) int {
	for _, p := range [][2]int{{a.y, b.y}, {a.mo, b.mo}, {a.d, b.d}, {a.mi, b.mi}} {
		if p[0] != p[1] {
			if p[0] < p[1] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// document is the JSON form of a schedule.
type document struct {
	TimeZone string              `json:"time_zone"`
	Weekly   map[string][]string `json:"weekly"`
	Closures []periodDoc         `json:"closures"`
	Openings []periodDoc         `json:"openings"`
}

type periodDoc struct {
	From string `json:"from"`
	To   string `json:"to"`
	Name string `json:"name,omitempty"`
}

var dayNames = [7]string{"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"}

// Parse reads a schedule: the word "always", or a JSON object
//
//	{"time_zone": "America/New_York",
//	 "weekly": {"monday": ["09:00-12:00", "13:00-17:00"], "friday": ["22:00-06:00"]},
//	 "closures": [{"from": "2026-12-24 12:00", "to": "2026-12-26", "name": "Christmas"}],
//	 "openings": [{"from": "2026-12-27 10:00", "to": "2026-12-27 14:00"}]}
//
// A weekly range may end after midnight (22:00-06:00 ends the next
// morning); 00:00-24:00 is the whole day; a day not listed is closed. A
// closure or opening runs from its "from" to its "to" in local time, each
// a date (YYYY-MM-DD: a from starts the day, a to ends it) or a date and
// time (YYYY-MM-DD HH:MM). An opening wins over a closure, a closure over
// the weekly hours. The error says what is wrong, for a 400 answer.
func Parse(s string) (*Schedule, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, Always) || s == `"`+Always+`"` {
		return &Schedule{always: true}, nil
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	var doc document
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("business hours must be %q or a JSON object with time_zone, weekly, closures and openings: %w", Always, err)
	}
	if dec.More() {
		return nil, errors.New("business hours: unexpected data after the JSON object")
	}
	if doc.TimeZone == "" {
		return nil, errors.New("business hours: time_zone is required (an IANA name such as America/New_York)")
	}
	// time.LoadLocation also reads files named by the zone: refuse anything
	// that is not the shape of an IANA name first.
	if !zoneName(doc.TimeZone) {
		return nil, fmt.Errorf("business hours: time_zone %q is not an IANA time zone name", doc.TimeZone)
	}
	loc, err := time.LoadLocation(doc.TimeZone)
	if err != nil || doc.TimeZone == "Local" {
		return nil, fmt.Errorf("business hours: unknown time_zone %q", doc.TimeZone)
	}
	sch := &Schedule{zone: doc.TimeZone, loc: loc}
	for name, ranges := range doc.Weekly {
		day := slices.Index(dayNames[:], strings.ToLower(name))
		if day < 0 {
			return nil, fmt.Errorf("business hours: weekly: %q is not a day (monday … sunday)", name)
		}
		if len(ranges) > MaxRanges {
			return nil, fmt.Errorf("business hours: weekly: %s has more than %d ranges", name, MaxRanges)
		}
		for _, r := range ranges {
			sp, err := parseSpan(r)
			if err != nil {
				return nil, fmt.Errorf("business hours: weekly: %s: %w", name, err)
			}
			sch.weekly[day] = append(sch.weekly[day], sp)
		}
	}
	if sch.closures, err = parsePeriods("closures", doc.Closures); err != nil {
		return nil, err
	}
	if sch.openings, err = parsePeriods("openings", doc.Openings); err != nil {
		return nil, err
	}
	return sch, nil
}

// zoneName reports whether s looks like an IANA zone name: letters, digits
// and _ + - in parts separated by single slashes.
func zoneName(s string) bool {
	if len(s) > 64 {
		return false
	}
	for _, part := range strings.Split(s, "/") {
		if part == "" || part == "." || part == ".." {
			return false
		}
		for _, r := range part {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '+') {
				return false
			}
		}
	}
	return true
}

func parseSpan(s string) (span, error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok {
		return span{}, fmt.Errorf("%q is not a range such as 09:00-17:00", s)
	}
	start, err := clock(a, false)
	if err != nil {
		return span{}, fmt.Errorf("%q: %w", s, err)
	}
	end, err := clock(b, true)
	if err != nil {
		return span{}, fmt.Errorf("%q: %w", s, err)
	}
	if end == start {
		return span{}, fmt.Errorf("%q is empty (use 00:00-24:00 for the whole day)", s)
	}
	if end < start {
		end += 24 * 60 // past midnight: ends the next morning
	}
	return span{start, end}, nil
}

// clock reads HH:MM as minutes since midnight; 24:00 only as an end.
func clock(s string, end bool) (int, error) {
	s = strings.TrimSpace(s)
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) != 2 || len(m) != 2 {
		return 0, fmt.Errorf("%q is not a time of day (HH:MM)", s)
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	switch {
	case err1 != nil || err2 != nil || h[0] == '-' || h[0] == '+' || m[0] == '-' || m[0] == '+':
		return 0, fmt.Errorf("%q is not a time of day (HH:MM)", s)
	case end && hh == 24 && mm == 0:
		return 24 * 60, nil
	case hh > 23 || mm > 59:
		return 0, fmt.Errorf("%q is not a time of day (00:00 to 23:59)", s)
	}
	return hh*60 + mm, nil
}

func parsePeriods(field string, docs []periodDoc) ([]period, error) {
	if len(docs) > MaxRanges {
		return nil, fmt.Errorf("business hours: %s: more than %d entries", field, MaxRanges)
	}
	out := make([]period, 0, len(docs))
	for i, d := range docs {
		from, err := parseWall(d.From, false)
		if err != nil {
			return nil, fmt.Errorf("business hours: %s[%d].from: %w", field, i, err)
		}
		to, err := parseWall(d.To, true)
		if err != nil {
			return nil, fmt.Errorf("business hours: %s[%d].to: %w", field, i, err)
		}
		if !from.before(to) {
			return nil, fmt.Errorf("business hours: %s[%d]: to (%s) must be after from (%s)", field, i, d.To, d.From)
		}
		out = append(out, period{from: from, to: to, name: d.Name})
	}
	return out, nil
}

// parseWall reads "YYYY-MM-DD" or "YYYY-MM-DD HH:MM". A date alone starts
// its day as a from and ends it (the next day's 00:00) as a to.
func parseWall(s string, to bool) (wall, error) {
	s = strings.TrimSpace(s)
	date, tod, hasTime := strings.Cut(s, " ")
	d, err := time.Parse("2006-01-02", date)
	if err != nil {
		return wall{}, fmt.Errorf("%q is not a date (YYYY-MM-DD) or date and time (YYYY-MM-DD HH:MM)", s)
	}
	if d.Year() < 2000 || d.Year() > 2999 {
		return wall{}, fmt.Errorf("%q is not a year between 2000 and 2999", s)
	}
	if !hasTime {
		if to {
			d = d.AddDate(0, 0, 1)
		}
		return wall{d.Year(), int(d.Month()), d.Day(), 0}, nil
	}
	mi, err := clock(tod, true)
	if err != nil {
		return wall{}, fmt.Errorf("%q: %w", s, err)
	}
	if mi == 24*60 {
		d, mi = d.AddDate(0, 0, 1), 0
	}
	return wall{d.Year(), int(d.Month()), d.Day(), mi}, nil
}

// Always reports whether the schedule never closes.
func (s *Schedule) Always() bool { return s == nil || s.always || s.loc == nil }

// Zone is the schedule's IANA time zone ("" when always open).
func (s *Schedule) Zone() string {
	if s.Always() {
		return ""
	}
	return s.zone
}

// Open reports whether t falls within the business hours. It compares
// local wall-clock times, so opening at 09:00 means 09:00 on the local
// clock on both sides of a daylight-saving change.
func (s *Schedule) Open(t time.Time) bool {
	if s.Always() {
		return true
	}
	lt := t.In(s.loc)
	now := wall{lt.Year(), int(lt.Month()), lt.Day(), lt.Hour()*60 + lt.Minute()}
	if in(s.openings, now) {
		return true
	}
	if in(s.closures, now) {
		return false
	}
	mins := now.mi
	for _, sp := range s.weekly[lt.Weekday()] {
		if mins >= sp.start && mins < sp.end {
			return true
		}
	}
	// Yesterday's ranges that run past midnight.
	for _, sp := range s.weekly[(lt.Weekday()+6)%7] {
		if mins+24*60 >= sp.start && mins+24*60 < sp.end {
			return true
		}
	}
	return false
}

func in(ps []period, now wall) bool {
	for _, p := range ps {
		if !now.before(p.from) && now.before(p.to) {
			return true
		}
	}
	return false
}

// Closure names the closure t falls in ("" when none, or when an opening
// or the schedule keeps the line open), for the log line of an
// after-hours call.
func (s *Schedule) Closure(t time.Time) string {
	if s.Always() {
		return ""
	}
	lt := t.In(s.loc)
	now := wall{lt.Year(), int(lt.Month()), lt.Day(), lt.Hour()*60 + lt.Minute()}
	if in(s.openings, now) {
		return ""
	}
	for _, p := range s.closures {
		if !now.before(p.from) && now.before(p.to) {
			if p.name == "" {
				return "closure"
			}
			return p.name
		}
	}
	return ""
}
