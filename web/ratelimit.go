package web

import (
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/didrouter/didrouter"
)

// Limit sets the sign-in rate limits: token buckets that refill to Burst
// over Per, one per client IP and one for everyone together.
type Limit struct {
	PerIP  int           // attempts per client IP per Per; 0 = 10
	Global int           // attempts of all clients together per Per; 0 = 100
	Per    time.Duration // 0 = a minute
}

// maxTracked bounds the per-IP buckets kept in memory; beyond it, full
// (idle) buckets are dropped.
const maxTracked = 10000

// limiter is in memory, so each instance limits on its own: with n
// instances behind a balancer a client gets up to n times the rate, which
// still stops guessing a 32-character secret or a signed link.
type limiter struct {
	lim   Limit
	clock didrouter.Clock
	mu    sync.Mutex
	all   bucket
	ips   map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newLimiter(l Limit, clock didrouter.Clock) *limiter {
	if l.PerIP <= 0 {
		l.PerIP = 10
	}
	if l.Global <= 0 {
		l.Global = 100
	}
	if l.Per <= 0 {
		l.Per = time.Minute
	}
	return &limiter{lim: l, clock: clock, all: bucket{tokens: float64(l.Global), at: clock.Now()}, ips: map[string]*bucket{}}
}

// take spends one token of b (capacity size) if it has one.
func (l *limiter) take(b *bucket, size int, now time.Time) bool {
	rate := float64(size) / l.lim.Per.Seconds()
	b.tokens = min(float64(size), b.tokens+now.Sub(b.at).Seconds()*rate)
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// allow reports whether the client may try to sign in now. A refused
// attempt costs nothing, so a client that waits gets in again.
func (l *limiter) allow(r *http.Request) bool {
	ip := clientIP(r)
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.ips[ip]
	if b == nil {
		if len(l.ips) >= maxTracked {
			l.sweep(now)
		}
		b = &bucket{tokens: float64(l.lim.PerIP), at: now}
		l.ips[ip] = b
	}
	// Check the client's bucket first: one client over its limit must not
	// use up everyone's.
	peek := *b
	if !l.take(&peek, l.lim.PerIP, now) {
		*b = peek
		return false
	}
	if !l.take(&l.all, l.lim.Global, now) {
		return false
	}
	*b = peek
	return true
}

// sweep drops the buckets that have refilled (their clients are idle).
func (l *limiter) sweep(now time.Time) {
	for ip, b := range l.ips {
		if now.Sub(b.at) >= l.lim.Per {
			delete(l.ips, ip)
		}
	}
}

// clientIP is the address the connection comes from. X-Forwarded-For is
// not read: anyone can write it. Behind a proxy every client has the
// proxy's address, and the per-IP limit becomes a second overall one.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
