// Package routing is didrouter's TaskRouter-compatible routing core: the
// expression language, workflow configurations, the worker index that
// answers "who can take this task", Explain, and phone number
// normalization.
//
// It follows Twilio's documentation of TaskRouter expressions
// (twilio.com/docs/taskrouter/expression-syntax), workflow configuration
// (…/workflow-configuration), skip_if (…/worker-presence), order_by
// (…/order-workers) and known agent routing
// (…/workflow-configuration/known-agent-routing). Where those pages are
// silent, the choices below were made; each is covered by a test.
//
// # Expressions
//
// Documented: constants (single- or double-quoted strings, integer and
// decimal numbers, true/false), keys with dot notation and [n] array
// indexes (a missing key is NULL), the operators == != < <= > >= CONTAINS
// HAS IN NOT IN, AND and OR, and parentheses.
//
// Chosen:
//   - Keywords (AND OR IN NOT HAS CONTAINS true false) are case-insensitive
//     ("in" appears in Twilio's own examples). "=" means "==", "&&" means
//     AND and "||" means OR. There is no "<>" and no unary NOT: NOT only
//     exists in NOT IN.
//   - AND binds tighter than OR (a OR b AND c is a OR (b AND c));
//     comparisons cannot be chained (a == b == c is an error).
//   - Strings accept the escapes \\, \' and \"; any other backslash
//     sequence is an error. Numbers may have a leading minus and a decimal
//     fraction, but no exponent. A list literal ([...] of constants) may
//     only be the right side of IN / NOT IN or the left side of HAS.
//   - Keys are identifiers (letters, digits, _; not starting with a digit).
//     A hyphen is an error that says hyphens are not supported.
//   - Limits: 16 KiB of source, parentheses 32 deep; attribute documents
//     1 MiB and 64 levels of nesting. Errors are *SyntaxError with a
//     1-based column counted in characters.
//   - Scopes: filter expressions (ScopeTask) see the task only ("task." is
//     optional); queue target_workers (ScopeWorker) see the worker only
//     ("worker." is optional); target expressions (ScopeTarget) must prefix
//     every key with "task." or "worker." as the documentation requires;
//     skip_if (ScopeSkip) sees workers.available, workers.unavailable,
//     workers.<activity sid or friendly name> and task.<key>. A key of the
//     wrong document is a compile error rather than a silent NULL.
//   - worker.sid, worker.friendly_name, worker.activity_sid and
//     worker.activity_name (documented for target expressions) name the
//     worker's own fields when they are set, ahead of attributes of the
//     same name; they work in target_workers too.
//
// Comparison semantics (the documentation only says comparisons between
// different types "should be avoided", scalar operators on arrays are
// false and array operators on two scalars are false):
//   - No coercion: "5" == 5 is false. Numbers compare numerically
//     (1 == 1.0); strings compare byte for byte, case-sensitively, and
//     order bytewise; booleans only equal booleans.
//   - NULL (missing key or JSON null) never compares: both NULL == x and
//     NULL != x are false, so task.x == worker.y never matches two missing
//     keys. Between two non-null scalars of different types, != is true.
//   - <, <=, >, >= hold only between two numbers or two strings.
//   - CONTAINS holds when both sides are strings and the right one is a
//     non-empty substring of the left. Numbers are not converted, and an
//     empty right side matches nothing: with the DID workflow's
//     "task.phone_number CONTAINS worker.phone_number", a worker whose
//     phone_number is "" must not receive every call.
//   - HAS: left is an array with an element == the right scalar.
//     IN: left scalar == an element of the right array. NOT IN: the left is
//     a non-null scalar and the right is an array without it, or is missing
//     ("worker.sid NOT IN task.excluded" holds when nothing is excluded).
//     Elements compare with ==; nested arrays and objects never match.
//
// # Workflows
//
//   - Unknown keys anywhere in the configuration are errors naming their
//     JSON path: a misspelt "skipif" would otherwise silently change
//     routing. Optional string fields that are "" or null count as absent;
//     a filter's expression is required.
//   - priority and timeout may be JSON numbers or numeric strings (Twilio's
//     own examples use "10"), must be whole numbers; timeout > 0 (the
//     documentation says positive) and at most 2^31-1 s; priority >= 0.
//   - A filter needs at least one target; the first target needs a queue
//     and later ones inherit the previous target's queue. default_filter
//     may not have timeout or skip_if (it has no later step).
//   - known_worker_sid / known_worker_friendly_name must be a task key such
//     as "task.agent_sid"; only one of them may be set. When the task lacks
//     the key the step matches nobody and waits for its timeout or skip_if,
//     as the documentation describes.
//   - order_by is "worker.<key> [ASC|DESC], ..."; ASC is the default.
//     Workers are ordered by each key's number (workers without a number
//     there come after those with one, in either direction), then by
//     longest idle (oldest IdleSince; a zero IdleSince counts as idle for
//     ever), then by sid, so the order is total.
//   - Workflow.MatchAfter: after the last target times out the task goes to
//     the next matching filter or is canceled (the documentation: the
//     default filter does not count after a timeout); after the last target
//     is skipped the task is treated as not matching its filter, so a later
//     filter or the default filter can take it.
//   - skip_if's workers.available counts queue members in an available
//     activity, whatever their capacity (the documented meaning).
//
// # Index
//
// The Index keeps queue membership (each queue's target_workers evaluated
// on every worker change) and, for every worker key a target expression
// compares with a task value, hash indexes of the workers' values: scalars
// by value, array elements by value and the lengths of string values. The
// shapes worker.k == v, v == worker.k, worker.k IN v, v IN worker.k,
// worker.k HAS v, v HAS worker.k and v CONTAINS worker.k (any v that does
// not involve the worker) are looked up, AND takes its narrowest child,
// OR the union; other expressions scan the queue. CONTAINS probes every
// substring of the task's string whose length is the length of some
// indexed value (for phone numbers: one or two lengths). Candidates are
// always checked with the full expression, so answers are exactly those of
// evaluating every member; a property test and a fuzz test compare the two.
// A queue with a nil target_workers has no members, like an empty
// TargetWorkers in TaskRouter. UpsertWorker ignores versions older than the
// stored one; removal keeps no tombstone.
//
// # Phone numbers
//
// Normalizer accepts national and international spellings and returns
// E.164. Client identities (client:), SIP addresses (sip:, sips:),
// anonymous-caller words and Twilio's keypad placeholders (+266696687 …)
// are rejected, as is anything phonenumbers does not consider a valid
// number; errors wrap ErrNotANumber. Numbers already in E.164 are still
// validated, once: results (errors included) are cached in two generations
// of 4096 entries. An extension ("ext 5") is dropped.
package routing
