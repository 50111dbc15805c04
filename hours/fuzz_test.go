package hours

import (
	"testing"
	"time"
)

// FuzzParse checks that no input makes Parse or Open panic, and that a
// schedule that parses answers Open for instants around the year.
func FuzzParse(f *testing.F) {
	for _, s := range []string{office, "always", "", `{"time_zone":"UTC","weekly":{"monday":["22:00-06:00"]}}`,
		`{"time_zone":"Europe/Berlin","closures":[{"from":"2026-03-29 02:30","to":"2026-03-29 24:00"}]}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sch, err := Parse(s)
		if err != nil {
			if sch != nil {
				t.Fatalf("Parse returned a schedule with the error %v", err)
			}
			return
		}
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for h := 0; h < 366*24; h += 37 {
			ts := base.Add(time.Duration(h) * time.Hour)
			sch.Open(ts)
			sch.Closure(ts)
		}
	})
}
