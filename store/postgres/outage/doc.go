// Package outage keeps didrouter answering calls while its database is
// briefly unreachable, as in a Postgres restart, a fail-over or a network
// blip.
//
// Store wraps a didrouter.Store. A read or transaction that fails because
// the database cannot be reached, before anything was sent to it, is tried
// again with backoff for up to Config.MaxWait, and never past the caller's
// deadline. So a restart of a few seconds only delays the webhooks it
// overlaps instead of failing them. Failures that may have reached the
// database, such as a connection cut mid-transaction or mid-commit, are not
// retried here. The caller's own fallback handles them, and every engine
// transaction reads again what it changes, so a later retry by Twilio
// finds the committed state.
package outage
