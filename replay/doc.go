// Package replay is didrouter's load tool, `didrouter replay`. The docs call
// it load replay, to keep it apart from journal replay in package degraded.
// It plays Twilio's part against a running didrouter. Each call of a
// script, read from JSONL or generated, is sent as Twilio sends it. First
// comes a signed incoming-call webhook. Then comes whatever the TwiML answer
// asks for: the agent's answer URL and the <Dial action> with the scripted
// outcome, the <Enqueue waitUrl> polled until <Leave/>, the <Enqueue
// action>, and the call's status callback. Every call's timeline is kept.
//
// It measures throughput, latency per webhook kind and errors. It also
// checks routing. A call to an available, idle owner must ring the owner,
// and any other call goes to Everyone. No worker may be offered two calls
// at once. Every call must leave exactly one task record, read back through
// the admin API. Timings seen from the client only bound what the server
// did, so a case those bounds cannot decide is counted as undecidable and
// never as a failure. A failed check is then always a real misroute.
//
// Given several targets, the instances of one deployment behind one public
// URL, it spreads webhooks over them round-robin as a load balancer that
// keeps no call sticky. A delivery that is refused, times out or is answered
// 5xx goes to the next target, as Twilio retries (Config.Retries). Retries
// are counted by kind, and a webhook is judged on its last attempt.
// Config.DuplicateRate delivers a share of webhooks twice, to two targets,
// as Twilio re-delivers.
//
// It is bounded. It stops at the end of the script or at Config.Duration,
// and calls still up then hang up. It only talks to the targets it is
// given, which must be loopback addresses unless AllowRemote is set.
package replay
