// Package faults proves how didrouter behaves when parts of a deployment
// fail. Its test (faults_test.go) starts a throwaway Postgres cluster of its
// own and several didrouter processes on loopback ports, drives bursts of
// calls with didrouter's replay tool (package replay: every webhook to the
// next instance, no call sticky, a refused or 5xx delivery sent to another
// instance, some delivered twice; callers who wait and hang up, agents who
// answer, let it ring, are busy, or whose dial action arrives late), and
// meanwhile kills one instance with SIGKILL, restarts Postgres and sends
// SIGTERM to another. Afterwards it checks the database: no worker
// was ever double-booked, every call has exactly one task, every timer fired
// in time, and no webhook was answered with a 5xx; replay's own checks
// hold, or deviate only where a fault explains it.
//
// The package holds tests only. The default run is bounded (about a minute);
// DIDROUTER_FAULTS_LONG=1 runs the long version (more calls, the real 60 s
// ring step, a 30 s database outage). DIDROUTER_FAULTS_STRICT=1 also fails
// on calls that went wrong in a known way after one of their webhooks hit
// a database outage (reported otherwise; see BENCHMARKS.md).
package faults
