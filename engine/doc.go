// Package engine is the routing state machine that moves a task through
// its workflow (TaskRouter semantics), the admin writes that keep workers,
// queues and workflows valid, and degraded mode's surface (Degraded). The
// domain types and the Store contract it works on are in the root package,
// didrouter.
//
// The store is the single source of truth shared by every instance; the
// engine keeps an in-memory worker index (routing.Index) that is rebuilt from
// the store on start and kept current from the store's change feed.
//
// # Routing semantics
//
// The Engine follows TaskRouter's task lifecycle (pending → reserved →
// assigned → wrapping → completed, or canceled) with one reservation at a
// time per task (a queue's MaxReservedWorkers is stored, not used) and a
// capacity per worker and channel. Voice is 1 unless set and is taken by
// every task channel but MessageChannel, whose capacity is 10 unless set
// (channels.go). The choices below are where
// TaskRouter's documentation leaves room, or where didrouter deliberately
// differs.
//
// Entering a workflow. A task enters the first target of the first filter
// whose expression matches its attributes, else the default_filter; a
// matched filter without targets is passed over like a skipped one. No match
// and no default_filter is EINVALID (nothing could ever answer the call). A
// target's priority replaces the task's. Events: task.created,
// workflow.target-matched, task-queue.entered.
//
// Reserving. Candidates come from the in-memory index (queue members for
// whom the target expression holds, available, with spare capacity on the
// task's channel, not in
// the task's RejectedWorkers; ordered by order_by, then longest idle). The
// reservation is made in one store transaction that re-reads the locked task
// (it must still be pending at the same step and must not have rejected the
// worker), claims the worker with Tx.ClaimWorker (the only place capacity is
// decided, so two instances can never double-book a worker), inserts the
// reservation (the store refuses a second live one per task), sets the task
// reserved and stores the reservation timer (the workflow's
// TaskReservationTimeout, default 120 s). A failed claim means the index was
// stale: the worker is re-read and the next candidate tried.
//
// Skipping. skip_if is evaluated only when no reservation can be made at
// once, with the queue's worker counts (workers.available …). When it holds
// the task moves to the next target at once (workflow.skipped,
// task-queue.moved); past a filter's final target a skip leaves the filter
// as if it had not matched: the next matching filter, else the default
// filter. A task with nowhere to skip to waits where it is. Rejections and
// timeouts re-evaluate skip_if too, so in the DID workflow a declined owner
// sends the call to Everyone at once, not after 60 s.
//
// These steps are written once, as the walk of walk.go. Three callers walk a
// task: route after a commit, placeNew inside the transaction that creates
// the task, and Degraded.Route from memory. Each supplies how a worker is
// claimed, how the task moves on and where the events go.
//
// Waiting and step timeouts. A task that cannot be reserved and does not
// skip waits at its target. A target timeout is measured from when the task
// entered that target (TaskRouter counts from the task's age; for the DID
// workflow the two agree, and per-step timing means a skipped step never
// eats into the next one). When it passes, a pending reservation at that
// step is rescinded (reservation.rescinded; its worker is freed and, having
// not answered, is added to RejectedWorkers so it is not rung again at the
// next step straight away), and the task moves to the next target of its
// filter (task-queue.timeout, task-queue.moved). Past the final target of a filter a timeout cancels the
// task with reason "Workflow Timeout" (workflow.timeout, task.canceled), as
// TaskRouter does; a final target without timeout (the DID workflow's
// Everyone) waits until the task's own timeout.
//
// Task timeout. Every task has a TTL (Timeout, default 86400 s) from its
// creation; a task still pending or reserved then is canceled with reason
// "Task TTL Exceeded". Accepting a reservation stops the TTL, step,
// reservation and re-offer timers.
//
// Rejection and reservation timeout. The reservation ends as rejected or
// timeout, its worker is freed and added to RejectedWorkers (not offered
// that task again while it stays at that step), the task goes back to
// pending and is routed again at once at its current target. After a
// timeout the worker moves to the workspace's TimeoutActivitySID when one is
// set (Seed leaves it unset).
//
// Re-offer (didrouter's own rule; TaskRouter promises no per-task
// exclusion). A task waiting at a step without timeout (the DID workflow's
// Everyone) would otherwise wait until its TTL once every eligible worker
// has missed it, even with all of them idle. So a re-offer timer (kind
// reoffer, one per task) is set Config.ReofferAfter (default 60 s; negative:
// never) after each exclusion and on entering a step without timeout with
// workers excluded; a new exclusion replaces it, so the cool-down counts
// from the latest miss. When it fires and the task is still pending at a
// step without timeout, RejectedWorkers is cleared (task.updated, data
// "reoffered_workers") and the task routed again: the longest idle eligible
// worker is reserved, or, when everyone is busy, the first to free up. A
// miss starts the cycle again. A task waiting at a step with a timeout (the
// owner's 60 s) is left alone: the owner who missed is not rung again
// before the task moves on, nor at the next step before the cool-down.
//
// Workers. "phone_number" is the worker's DID, normalized to E.164 and
// stored in Worker.PhoneNumber and in the attributes; unparseable is
// EINVALID, a number another worker owns is ECONFLICT naming the owner;
// empty, null or missing means no DID. New workers get the workspace's
// default activity and capacity 1. A worker moving to an unavailable
// activity gives up its pending reservations (each is rejected, as
// TaskRouter's RejectPendingReservations does), so a ringing call moves on
// at once; a worker on an accepted call cannot be deleted (EUNAVAILABLE).
//
// Serving waiting tasks. Whenever a worker may have become able to take a
// task (created, activity now available, attributes changed, freed by a
// completion, cancellation, rejection or rescission), it is given the first
// waiting task, in service order (priority descending, then oldest first;
// newest first among a LIFO queue's tasks of one priority, and voicemail
// messages after the other tasks of their priority, see serviceOrder),
// whose current target it is eligible for. When a queue,
// workflow or activity changes, every waiting task is routed again, in the
// same order.
//
// Completion. CompleteTask moves an assigned task to completed (or, with
// Config.WrapUp, to wrapping first, completed when the wrap-up timer fires
// or on a second CompleteTask) and frees the worker, who serves the next
// waiting task. CancelTask applies to pending and reserved tasks. Completing
// a completed task and canceling a canceled one return it unchanged, so
// retried webhooks are harmless.
//
// Several instances. The store is the only source of truth. The index is a
// cache: loaded per workspace on Start (or on first use), updated after this
// instance's commits and from Store.Subscribe (worker, queue, workflow and
// activity changes; a resync reloads everything). Another instance's change
// that frees a worker or leaves a task pending is acted on here too, so a
// race between a task arriving on one instance and a worker freeing on
// another cannot strand the task. Timers live in the store: each instance's
// loop claims due timers one per transaction (ClaimDueTimers, SKIP LOCKED),
// so each fires exactly once; every handler re-checks the task's state
// against the clock, so a timer for a step or reservation that is over does
// nothing. The loop also polls every TimerPoll of real time; what is due is
// always decided by Config.Clock. A handler that fails with a coded error drops its timer instead
// of retrying it forever; a store failure leaves it for the next run.
//
// Presence (didrouter's own rules, both off unless configured). After
// Config.MissedCallsUnavailable reservations in a row that a worker let
// ring out (timeout, or rescinded at the end of the owner's step) or
// declined (rejected), the worker is moved to the activity named
// "Unavailable" (missed.go); an accepted reservation resets the count, and
// reservations that ended without the worker's answer (canceled because the
// caller hung up, given up because the worker left for an unavailable
// activity) do not count, nor do those of tasks that ring no phone (type
// "voicemail" or "callback", the webhooks' messages: ringsPhone). The count is a column of the worker written in
// the transaction that ends the reservation. Agent desktop pages report
// themselves (PresenceTracker: open, heartbeat, closed), stored per page;
// one away timer per worker moves a worker whose last page has not been
// heard of for Config.AgentAway to "Offline" (presence.go). Both moves are
// worker.activity.update events whose data carry a "reason"
// (ReasonMissedCalls with "missed_calls", ReasonAway with "away_seconds"),
// and give up the worker's pending reservations as an activity change does.
//
// Degraded mode. While the store cannot be reached, Degraded.Route takes a
// new call's decision from memory only (the workflow row the caller kept,
// the worker index, which counts the reserved worker busy); nothing is
// written. Degraded.Import later writes the call with its own sids and dates,
// claiming the worker as an online reservation would: a worker taken
// meanwhile is a recorded conflict (the reservation stored canceled), never
// a second booking. Package degraded journals these calls and replays them.
//
// Errors are wrapped with %w and never logged and dropped on a caller's
// path; background work (change feed, timer loop) has no caller and logs.
package engine
