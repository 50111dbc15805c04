package replay

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// Generator describes a synthetic script: Calls calls arriving at Rate per
// second (Poisson arrivals) to DIDs numbers, Workers agents of whom the
// first min(DIDs, Workers) own numbers; OwnerAvailable is the share of
// agents available. The outcome mix says which share of calls is
// answered, not answered, busy or abandoned (they need not add up to 1).
type Generator struct {
	Calls          int
	Rate           float64 // calls per second
	DIDs           int
	Workers        int
	OwnerAvailable float64
	Seed           uint64

	Answered, NoAnswer, Busy, Hangup float64 // outcome mix
	RingS                            float64 // seconds of ringing before the first worker answers or gives up
	TalkS                            float64 // seconds answered calls talk
	HangupAfterS                     float64 // seconds until an abandoning caller hangs up
}

// DefaultGenerator is the mix replay generates without flags.
func DefaultGenerator() Generator {
	return Generator{Calls: 1000, Rate: 50, DIDs: 100, Workers: 100, OwnerAvailable: 0.7, Seed: 1,
		Answered: 0.8, NoAnswer: 0.1, Busy: 0.05, Hangup: 0.05, RingS: 1, TalkS: 2, HangupAfterS: 3}
}

// Script generates the script. The same Generator always gives the same script.
func (g Generator) Script() (*Script, error) {
	switch {
	case g.Calls < 1:
		return nil, errors.New("--calls must be at least 1")
	case g.Rate <= 0 || math.IsInf(g.Rate, 0) || math.IsNaN(g.Rate):
		return nil, errors.New("--rate must be a positive number of calls per second")
	case g.DIDs < 1:
		return nil, errors.New("--dids must be at least 1")
	case g.Workers < 0:
		return nil, errors.New("--workers must not be negative")
	case g.OwnerAvailable < 0 || g.OwnerAvailable > 1:
		return nil, errors.New("--owner-available must be between 0 and 1")
	case g.DIDs > maxDIDs:
		return nil, fmt.Errorf("--dids must be at most %d", maxDIDs)
	}
	mix := []float64{g.Answered, g.NoAnswer, g.Busy, g.Hangup}
	total := 0.0
	for _, f := range mix {
		if f < 0 || math.IsNaN(f) {
			return nil, errors.New("outcome shares must not be negative")
		}
		total += f
	}
	if total == 0 {
		return nil, errors.New("outcome shares are all zero")
	}
	rng := rand.New(rand.NewPCG(g.Seed, 0x6469_6472_6f75_7465))
	s := &Script{Workers: make([]Worker, g.Workers), Calls: make([]Call, g.Calls)}
	for i := range s.Workers {
		w := Worker{Name: WorkerName(i), Available: rng.Float64() < g.OwnerAvailable}
		if i < g.DIDs {
			w.DID = DID(i)
		}
		s.Workers[i] = w
	}
	outcomes := []string{OutcomeAnswered, OutcomeNoAnswer, OutcomeBusy, OutcomeHangup}
	at := 0.0 // seconds
	for i := range s.Calls {
		if i > 0 {
			at += rng.ExpFloat64() / g.Rate
		}
		pick, outcome := rng.Float64()*total, outcomes[0]
		for j, f := range mix {
			if pick < f {
				outcome = outcomes[j]
				break
			}
			pick -= f
		}
		c := Call{OffsetMS: int64(at * 1000), From: callerNumber(rng.IntN(1_000_000)), To: DID(rng.IntN(g.DIDs)),
			Outcome: outcome, AfterS: g.RingS, TalkS: g.TalkS}
		switch outcome {
		case OutcomeHangup:
			c.AfterS, c.TalkS = g.HangupAfterS, 0
		case OutcomeBusy:
			c.AfterS = 0
		}
		s.Calls[i] = c
	}
	return s, nil
}

// WorkerName is the name (and client identity) of generated worker i.
func WorkerName(i int) string { return fmt.Sprintf("rp%07d", i) }

// didAreas are US area codes of generated numbers; exchanges run from 200
// to 999 without N11 codes, so every number is a valid US number.
var didAreas = []string{"512", "737", "214", "469", "972", "713", "281", "832", "210", "726"}

const (
	exchangesPerArea = 720 // 200–999 without the eight N11 codes
	maxDIDs          = 10 * exchangesPerArea * 10000
)

// DID is generated number i (E.164).
func DID(i int) string {
	line := i % 10000
	rest := i / 10000
	area := didAreas[rest%len(didAreas)]
	return fmt.Sprintf("+1%s%03d%04d", area, exchange(rest/len(didAreas)%exchangesPerArea), line)
}

// exchange maps 0..719 onto 200..999, skipping N11 codes.
func exchange(i int) int {
	x := 200 + i
	for n11 := 211; n11 <= 911; n11 += 100 {
		if x >= n11 {
			x++
		}
	}
	return x
}

// callerNumber is a caller's number (Chicago area: never one of the DIDs).
func callerNumber(i int) string {
	return fmt.Sprintf("+1312%03d%04d", exchange(i/10000%exchangesPerArea), i%10000)
}
