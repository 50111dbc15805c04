package hours

import (
	"strings"
	"testing"
	"time"
)

const office = `{"time_zone": "America/New_York",
 "weekly": {"monday": ["09:00-17:00"], "tuesday": ["09:00-17:00"], "wednesday": ["09:00-12:00", "13:00-17:00"],
            "thursday": ["09:00-17:00"], "friday": ["22:00-06:00"], "sunday": ["00:00-24:00"]},
 "closures": [{"from": "2026-12-24 12:00", "to": "2026-12-25", "name": "Christmas"},
              {"from": "2027-01-01", "to": "2027-01-01"}],
 "openings": [{"from": "2026-12-25 10:00", "to": "2026-12-25 11:00"}]}`

func mustParse(t *testing.T, s string) *Schedule {
	t.Helper()
	sch, err := Parse(s)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return sch
}

func at(t *testing.T, zone, local string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	v, err := time.ParseInLocation("2006-01-02 15:04", local, loc)
	if err != nil {
		t.Fatal(err)
	}
	return v.UTC()
}

func TestOpen(t *testing.T) {
	sch := mustParse(t, office)
	for _, c := range []struct {
		local string
		open  bool
	}{
		{"2026-12-07 08:59", false}, // Monday before opening
		{"2026-12-07 09:00", true},
		{"2026-12-07 16:59", true},
		{"2026-12-07 17:00", false},
		{"2026-12-09 12:30", false}, // Wednesday lunch
		{"2026-12-09 13:00", true},
		{"2026-12-11 21:59", false}, // Friday night shift
		{"2026-12-11 22:00", true},
		{"2026-12-12 05:59", true}, // Saturday morning, Friday's range
		{"2026-12-12 06:00", false},
		{"2026-12-13 03:00", true},  // Sunday all day
		{"2026-12-14 00:00", false}, // Monday midnight: Sunday's 24:00 ended
		{"2026-12-24 11:59", true},  // Thursday, before the closure
		{"2026-12-24 12:00", false}, // closure spanning midnight
		{"2026-12-25 09:30", false},
		{"2026-12-25 10:30", true}, // one-off opening inside the closure
		{"2026-12-25 23:59", false},
		{"2027-01-01 10:00", false}, // a dated holiday (Friday daytime is closed anyway)
		{"2027-01-01 23:00", false}, // Friday night shift closed by the holiday
	} {
		if got := sch.Open(at(t, "America/New_York", c.local)); got != c.open {
			t.Errorf("Open(%s New York) = %v, want %v", c.local, got, c.open)
		}
	}
	if got := sch.Closure(at(t, "America/New_York", "2026-12-24 15:00")); got != "Christmas" {
		t.Errorf("Closure = %q", got)
	}
}

// Opening hours are local wall-clock times: 09:00 stays 09:00 local on
// both sides of the spring and autumn changes, which moves them by an hour
// in UTC.
func TestOpenAcrossDST(t *testing.T) {
	sch := mustParse(t, `{"time_zone":"Europe/Berlin","weekly":{"monday":["09:00-17:00"],"saturday":["01:00-04:00"],"sunday":["01:00-04:00"]}}`)
	// Monday 23 March 2026 (CET, UTC+1) and Monday 30 March 2026 (CEST, UTC+2).
	for _, c := range []struct {
		utc  string
		open bool
	}{
		{"2026-03-23T07:59:00Z", false}, {"2026-03-23T08:00:00Z", true},
		{"2026-03-30T06:59:00Z", false}, {"2026-03-30T07:00:00Z", true},
		{"2026-03-30T14:59:00Z", true}, {"2026-03-30T15:00:00Z", false},
		// Sunday 29 March 2026: 02:00-03:00 local does not exist; 01:00-04:00 local
		// is 00:00Z to 02:00Z.
		{"2026-03-28T23:59:00Z", false}, {"2026-03-29T00:00:00Z", true}, {"2026-03-29T01:59:00Z", true},
		{"2026-03-29T02:00:00Z", false},
		// Sunday 25 October 2026: 02:00-03:00 local happens twice; 01:00-04:00 local
		// is 23:00Z Saturday to 03:00Z.
		{"2026-10-24T22:59:00Z", false}, {"2026-10-24T23:00:00Z", true}, {"2026-10-25T02:59:00Z", true},
		{"2026-10-25T03:00:00Z", false},
	} {
		ts, _ := time.Parse(time.RFC3339, c.utc)
		if got := sch.Open(ts); got != c.open {
			t.Errorf("Open(%s) = %v, want %v", c.utc, got, c.open)
		}
	}
}

func TestAlways(t *testing.T) {
	for _, s := range []string{"", "always", " Always ", `"always"`} {
		sch := mustParse(t, s)
		if !sch.Always() || !sch.Open(time.Now()) {
			t.Errorf("Parse(%q) is not always open", s)
		}
	}
	var nilSch *Schedule
	if !nilSch.Open(time.Now()) {
		t.Error("a nil schedule must be open")
	}
}

func TestParseErrors(t *testing.T) {
	for in, want := range map[string]string{
		`{}`:                               "time_zone is required",
		`{"time_zone":"Mars/Olympus"}`:     "unknown time_zone",
		`{"time_zone":"../../etc/passwd"}`: "not an IANA",
		`{"time_zone":"Local"}`:            "unknown time_zone",
		`{"time_zone":"UTC","weekly":{"funday":["09:00-10:00"]}}`:                              "not a day",
		`{"time_zone":"UTC","weekly":{"monday":["9-10"]}}`:                                     "not a time of day",
		`{"time_zone":"UTC","weekly":{"monday":["09:00-09:00"]}}`:                              "empty",
		`{"time_zone":"UTC","weekly":{"monday":["24:00-10:00"]}}`:                              "00:00 to 23:59",
		`{"time_zone":"UTC","weekly":{"monday":["09:60-10:00"]}}`:                              "00:00 to 23:59",
		`{"time_zone":"UTC","weekly":{"monday":["09:00"]}}`:                                    "not a range",
		`{"time_zone":"UTC","closures":[{"from":"2026-13-01","to":"2026-12-02"}]}`:             "not a date",
		`{"time_zone":"UTC","closures":[{"from":"2026-12-02","to":"2026-12-01"}]}`:             "must be after",
		`{"time_zone":"UTC","openings":[{"from":"2026-12-02 10:00","to":"2026-12-02 10:00"}]}`: "must be after",
		`{"time_zone":"UTC","holidays":[]}`:                                                    "unknown field",
		`{"time_zone":"UTC"} {}`:                                                               "unexpected data",
		`monday 9 to 5`:                                                                        "JSON object",
	} {
		_, err := Parse(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%s) = %v, want an error containing %q", in, err, want)
		}
	}
}
