// Package replay is didrouter's load tool: it plays Twilio's part against a
// running didrouter. Each call of a script (JSONL, or generated) is sent as
// Twilio sends it: a signed incoming-call webhook, then whatever the TwiML
// answer asks for — the agent's answer URL and the <Dial action> with the
// scripted outcome, the <Enqueue waitUrl> polled until <Leave/>, the
// <Enqueue action>, and the call's status callback — with every call's
// timeline kept.
//
// It measures throughput and latency per webhook kind (HDR histograms) and
// errors, and checks routing: a call to an available, idle owner rings the
// owner; any other call goes to Everyone; no worker is offered two calls at
// once; every call leaves exactly one task record (read back through the
// admin API). Timings seen from the client bound what the server did; a
// case those bounds cannot decide is counted as undecidable, never as a
// failure, so a failed check is always a real misroute.
//
// Given several targets (instances of one deployment behind one public
// URL), it spreads webhooks over them round-robin, whatever call they
// belong to, as a load balancer that keeps no call sticky; a delivery that
// is refused, times out or is answered 5xx is sent to the next target
// (Config.Retries, as Twilio retries), counted by kind, and the webhook is
// judged on its last attempt; Config.DuplicateRate delivers a share of
// webhooks twice, to two targets, as Twilio re-delivers.
//
// It is bounded: it stops at the end of the script or at Config.Duration
// (calls still up then hang up), and it only talks to the targets it is
// given, which must be loopback addresses unless AllowRemote is set.
package replay
