// A test double of Twilio's Voice SDK at its module boundary: the browser
// build's global Twilio.Device and the Call objects it hands out, with the
// methods and events phone.js uses. The browser tests serve it in place of
// vendor/twilio.min.js (Twilio cannot be reached from the tests).
//
// What the page does is recorded in window.twilioDouble; the test plays
// Twilio's side with twilioDouble.ring(params) (a call for this identity),
// twilioDouble.cancel() (the caller hung up while it rang) and
// twilioDouble.hangUp() (the other party ended the call).
"use strict";
(function () {
  class Emitter {
    constructor() { this.handlers = {}; }
    on(event, fn) { (this.handlers[event] = this.handlers[event] || []).push(fn); return this; }
    emit(event, ...args) { for (const fn of this.handlers[event] || []) fn(...args); }
  }

  const double = { devices: [], calls: [], log: [], tokens: [] };

  class Call extends Emitter {
    constructor(direction, parameters, customParameters) {
      super();
      this.direction = direction;
      this.parameters = parameters;
      this.customParameters = new Map(Object.entries(customParameters || {}));
      this.muted = false;
      this.state = direction === "INCOMING" ? "pending" : "connecting";
      this.digits = "";
      double.calls.push(this);
    }
    status() { return this.state; }
    accept() {
      if (this.state !== "pending") return;
      this.state = "open";
      double.log.push("accept");
      setTimeout(() => this.emit("accept", this), 0);
    }
    reject() {
      if (this.state !== "pending") return;
      this.state = "closed";
      double.log.push("reject");
      setTimeout(() => this.emit("reject"), 0);
    }
    ignore() { this.state = "closed"; double.log.push("ignore"); }
    disconnect() {
      if (this.state === "closed") return;
      this.state = "closed";
      double.log.push("disconnect");
      setTimeout(() => this.emit("disconnect", this), 0);
    }
    mute(on = true) {
      this.muted = !!on;
      double.log.push(on ? "mute" : "unmute");
      setTimeout(() => this.emit("mute", this.muted, this), 0);
    }
    isMuted() { return this.muted; }
    sendDigits(d) { this.digits += d; double.log.push("digits " + d); }
  }

  class Device extends Emitter {
    constructor(token, options) {
      super();
      if (typeof token !== "string" || token.split(".").length !== 3) throw new Error("Device: not a JWT: " + token);
      this.token = token;
      this.options = options || {};
      this.state = "unregistered";
      double.tokens.push(token);
      double.devices.push(this);
    }
    static get isSupported() { return true; }
    async register() {
      this.state = "registered";
      double.log.push("register");
      setTimeout(() => this.emit("registered"), 0);
    }
    async unregister() { this.state = "unregistered"; setTimeout(() => this.emit("unregistered"), 0); }
    updateToken(token) { this.token = token; double.tokens.push(token); double.log.push("updateToken"); }
    async connect(options) {
      const params = (options && options.params) || {};
      double.log.push("connect " + JSON.stringify(params));
      const c = new Call("OUTGOING", { To: params.To }, {});
      // Twilio has the TwiML App's webhook answered: the call is up.
      setTimeout(() => { c.state = "open"; c.emit("accept", c); }, 0);
      return c;
    }
    destroy() { this.state = "destroyed"; double.log.push("destroy"); }
  }

  double.ring = (parameters) => {
    const d = double.devices[double.devices.length - 1];
    if (!d || d.state !== "registered") throw new Error("no registered device to ring");
    const c = new Call("INCOMING", parameters);
    d.emit("incoming", c);
    return double.calls.length - 1;
  };
  double.current = () => double.calls[double.calls.length - 1];
  double.cancel = () => { const c = double.current(); c.state = "closed"; c.emit("cancel"); };
  double.hangUp = () => { const c = double.current(); c.state = "closed"; c.emit("disconnect", c); };
  double.expireSoon = () => double.devices[double.devices.length - 1].emit("tokenWillExpire");

  window.twilioDouble = double;
  window.Twilio = { Device: Device, Call: Call };
})();
