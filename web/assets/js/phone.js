// The browser phone: Twilio's Voice SDK (window.Twilio.Device, from
// vendor/twilio.min.js) registered as the agent's client identity, with a
// token minted by didrouter for the signed-in agent only. Calls didrouter
// rings at client:NAME ring here; calls dialed here go out through the
// TwiML App, whose webhook gives them the agent's own number as caller ID.
// Plain JavaScript, no build step. The page loads it only when the server
// has a phone set up.
"use strict";
(function () {
  const csrf = document.body.dataset.csrf || "";
  const $ = (id) => document.getElementById(id);
  const form = $("dial-form");
  if (!form) return;

  function status(message) {
    const el = $("phone-status");
    if (el) el.textContent = message;
  }

  if (!window.Twilio || !window.Twilio.Device) {
    status("The phone could not be loaded. Reload the page; if it keeps happening, tell your administrator.");
    return;
  }

  let device = null;
  let call = null; // the call ringing here or under way
  let incoming = false; // call is an incoming call not yet answered
  let lastState = null; // didrouter's latest pushed state (agent.js)
  let ticking = null;

  // The call didrouter says is ringing this agent, if any.
  function ringing() {
    const s = lastState && lastState.call;
    return s && s.direction === "inbound" && s.state === "ringing" ? s : null;
  }

  // The caller as didrouter describes the call it rings, else as the
  // Voice SDK reports it.
  function callerNumber(c) {
    const s = ringing();
    if (s) return s.number_display;
    return (c && c.parameters && c.parameters.From) || "an unknown number";
  }

  function callerText(c) {
    const s = ringing();
    return callerNumber(c) + (s ? (s.to_your_number ? " called your number" : " through " + s.via) : "");
  }

  let who = ""; // the other party of the call, as shown

  document.addEventListener("didrouter:state", (ev) => {
    lastState = ev.detail;
    if (call && incoming) {
      who = callerNumber(call);
      $("incoming-text").textContent = "Incoming call: " + callerText(call);
    }
  });

  function show(part) {
    $("phone-incoming").hidden = part !== "incoming";
    $("phone-call").hidden = part !== "call";
  }

  function startTimer() {
    const started = Date.now();
    const el = $("call-timer");
    const tick = () => {
      const s = Math.floor((Date.now() - started) / 1000);
      el.textContent = Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
    };
    tick();
    ticking = setInterval(tick, 1000);
  }

  function stopTimer() {
    if (ticking) clearInterval(ticking);
    ticking = null;
    $("call-timer").textContent = "0:00";
  }

  // idle goes back to "no call" once the call ends, however it ends.
  function idle(message) {
    call = null;
    incoming = false;
    stopTimer();
    show("none");
    const mute = $("mute");
    mute.setAttribute("aria-pressed", "false");
    mute.textContent = "Mute";
    if (message) status(message);
  }

  function onCall() {
    incoming = false;
    show("call");
    $("call-with").textContent = "On a call with " + who;
    startTimer();
    status("On a call.");
  }

  function watch(c) {
    c.on("accept", onCall);
    c.on("disconnect", () => idle("Call ended. Ready for calls."));
    c.on("cancel", () => idle("The call stopped ringing. Ready for calls."));
    c.on("reject", () => idle("Call declined. Ready for calls."));
    c.on("error", (e) => status("Call problem: " + ((e && e.message) || e)));
  }

  async function fetchToken() {
    const r = await fetch("/agent/phone/token", {
      method: "POST", credentials: "same-origin", body: new URLSearchParams({ csrf: csrf }),
      headers: { "Accept": "application/json", "X-CSRF-Token": csrf },
    });
    let body = {};
    try { body = await r.json(); } catch (e) { /* an answer without JSON: the status says enough */ }
    if (!r.ok) {
      if (r.status === 401) throw new Error("You are signed out. Open a new sign-in link to use the phone.");
      throw new Error(body.error || "The phone could not start (error " + r.status + ").");
    }
    return body.token;
  }

  async function start() {
    let token;
    try {
      token = await fetchToken();
    } catch (e) {
      status(e.message);
      return;
    }
    device = new window.Twilio.Device(token, { closeProtection: true, tokenRefreshMs: 60000, codecPreferences: ["opus", "pcmu"] });
    device.on("registered", () => {
      document.body.dataset.phone = "ready";
      form.hidden = false;
      if (!call) status("Ready: calls to your number ring in this browser.");
    });
    device.on("unregistered", () => {
      delete document.body.dataset.phone;
      status("The phone is offline. Reload the page to reconnect it.");
    });
    device.on("error", (e) => status("Phone problem: " + ((e && e.message) || e)));
    device.on("tokenWillExpire", async () => {
      try {
        device.updateToken(await fetchToken());
      } catch (e) {
        status(e.message);
      }
    });
    device.on("incoming", (c) => {
      if (call) {
        c.reject(); // one call at a time; didrouter moves the caller on
        return;
      }
      call = c;
      incoming = true;
      who = callerNumber(c);
      watch(c);
      $("incoming-text").textContent = "Incoming call: " + callerText(c);
      show("incoming");
      status("Ringing.");
      $("accept").focus();
    });
    status("Connecting the phone…");
    try {
      await device.register();
    } catch (e) {
      status("The phone could not connect to Twilio: " + ((e && e.message) || e));
    }
  }

  $("accept").addEventListener("click", () => { if (call && incoming) call.accept(); });
  $("decline").addEventListener("click", () => { if (call && incoming) call.reject(); });
  $("hangup").addEventListener("click", () => { if (call) call.disconnect(); });
  $("mute").addEventListener("click", () => {
    if (!call) return;
    const muted = !call.isMuted();
    call.mute(muted);
    const b = $("mute");
    b.setAttribute("aria-pressed", String(muted));
    b.textContent = muted ? "Unmute" : "Mute";
  });

  // The dial pad types the number, or during a call sends the tones.
  $("dialpad").addEventListener("click", (ev) => {
    const key = ev.target.closest("button");
    if (!key) return;
    if (call && !incoming) {
      call.sendDigits(key.value);
      return;
    }
    const input = $("dial-number");
    input.value += key.value;
    input.focus();
  });

  async function dial(number) {
    number = number.trim();
    if (!device || document.body.dataset.phone !== "ready") {
      status("The phone is not connected yet.");
      return;
    }
    if (call) {
      status("Hang up the current call first.");
      return;
    }
    if (!/^\+?[0-9()\-.\s]{3,31}$/.test(number)) {
      status("Type a phone number: digits, with + and the country code for another country.");
      return;
    }
    status("Calling " + number + "…");
    try {
      call = await device.connect({ params: { To: number } });
    } catch (e) {
      idle("The call could not be placed: " + ((e && e.message) || e));
      return;
    }
    incoming = false;
    who = number;
    watch(call);
    show("call");
    $("call-with").textContent = "Calling " + number;
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    dial($("dial-number").value);
  });

  // "Call back" in recent calls (agent.js draws the buttons).
  document.addEventListener("click", (ev) => {
    const b = ev.target.closest && ev.target.closest("button.call-back");
    if (!b) return;
    $("dial-number").value = b.dataset.number;
    dial(b.dataset.number);
  });

  start();
})();
