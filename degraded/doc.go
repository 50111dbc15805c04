// Package degraded keeps calls connected while the database is unreachable
// for longer than package outage (store/postgres/outage) waits, and makes
// sure that everything decided meanwhile reaches the database once it is
// back.
//
// While the store is down (outage.Store.Down), a new call is routed from
// this instance's memory (engine.Degraded.Route, with the workflow of the
// dialed number's binding as last read, else the default workflow: the
// owner when the index says they are free, else Everyone's longest-idle
// worker, else the queue),
// and what Twilio reports about calls in progress (an agent answered, a dial
// ended, a caller hung up) is recorded instead of applied. Both go to a
// Journal: an append-only file of this instance, fsynced before the TwiML
// answer is sent. When the store answers again the journal is replayed in
// order; every step is idempotent (a call's task is keyed by its CallSid,
// reservations by their sid, and each transition re-checks the state), so a
// replay interrupted by a crash is simply run again on restart. The journal
// of an instance that does not come back is replayed with the same code by
// `didrouter journal replay` (Mode.ReplayPending); a journal file is locked
// by the process that has it open.
//
// The files follow the jobs: mode.go the Mode and its configuration,
// supervise.go the loop that watches the store, warm.go what is read ahead
// for an outage, record.go the calls journaled during one, replay.go the
// journal applied afterwards, adopt.go the journals of gone instances.
//
// Double booking. The worker index is local: two instances that cannot see
// the store could offer one worker two calls. Members bounds this: every
// instance announces itself through the store's change feed every few
// seconds, and while the store is down an instance only reserves the
// workers that hash to it among the instances it last saw alive. As long
// as the instances saw the same membership (nobody joined or left in the
// seconds before the outage) no worker can be offered by two instances. A
// worker also stays counted busy on the instance that reserved them until
// the store is back when the end of the call reached another instance.
package degraded
