// Package degraded keeps calls connected while the database is unreachable
// for longer than package store/postgres/outage waits. It also makes sure
// that everything decided meanwhile reaches the database once it is back.
//
// While outage.Store.Down says the store is down, engine.Degraded.Route
// routes a new call from this instance's memory. It uses the workflow of
// the dialed number's binding as last read, else the default workflow. The
// owner gets the call when the index says they are free, else Everyone's
// longest-idle worker does, else the call waits in the queue. What Twilio
// reports about calls in progress is recorded instead of applied, such as
// an agent who answered, a dial that ended or a caller who hung up.
//
// Both go to a Journal, an append-only file of this instance. An entry is
// fsynced before the TwiML answer is sent. When the store answers again
// the journal is replayed in order. Every step is idempotent, so a replay
// interrupted by a crash is simply run again on restart. A call's task is
// keyed by its CallSid, reservations by their sid, and each transition
// checks the state again. `didrouter journal replay` replays the journal
// of an instance that does not come back with the same code, through
// Mode.ReplayPending. The process that has a journal file open holds a
// lock on it.
//
// The files follow the jobs. mode.go holds the Mode and its configuration,
// supervise.go the loop that watches the store, warm.go what is read ahead
// for an outage, record.go the calls journaled during one, replay.go the
// journal applied afterwards, and adopt.go the journals of gone instances.
//
// Double booking. The worker index is local, so two instances that cannot
// see the store could offer one worker two calls. Members bounds this.
// Every instance announces itself through the store's change feed every
// few seconds. While the store is down, an instance only reserves the
// workers that hash to it among the instances it last saw alive. As long
// as the instances saw the same membership, no worker can be offered by
// two instances. Their views differ only when an instance joined or left
// in the seconds before the outage. When the end of a call reaches another
// instance, the worker stays counted busy on the instance that reserved
// them until the store is back.
package degraded
