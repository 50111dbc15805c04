package webhooks

import "net/http"

// floorTwiML is what /floor answers: the shape of a real incoming-call
// answer (greeting, then ring a client with action and answer URLs), fixed.
const floorTwiML = `<?xml version="1.0" encoding="UTF-8"?><Response>` +
	`<Say>We are connecting you to your specialist now.</Say>` +
	`<Dial timeout="60" action="https://calls.example.com/webhooks/voice/dial?task=WT0&amp;reservation=WR0" method="POST">` +
	`<Client url="https://calls.example.com/webhooks/voice/answer?task=WT0&amp;reservation=WR0">floor</Client></Dial></Response>`

// serveFloor answers the constant document (Config.FloorRoute).
func serveFloor(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(floorTwiML))
}
