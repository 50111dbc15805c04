// The agent desktop: presence buttons, "My number" copy, and the live state
// pushed by the server (/agent/events). Plain JavaScript, no build step.
// The page works without it (forms post and reload); with it, it updates
// in place. The browser phone (phone.js, when the server has it) listens to
// the "didrouter:state" and "didrouter:notice" events on document and reads
// the CSRF token from document.body.dataset.csrf.
"use strict";
(function () {
  const csrf = document.body.dataset.csrf || "";
  const $ = (id) => document.getElementById(id);

  function text(id, value) {
    const el = $(id);
    if (el) el.textContent = value;
  }

  // Times come as RFC 3339 in UTC; show them in the agent's own time.
  function localTime(iso) {
    const d = new Date(iso);
    if (isNaN(d)) return iso;
    const today = new Date().toDateString() === d.toDateString();
    return today ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
      : d.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
  }

  function localizeTimes(root) {
    for (const t of root.querySelectorAll("time[datetime]")) t.textContent = localTime(t.getAttribute("datetime"));
  }

  function renderActivities(state) {
    const box = $("activities");
    if (!box) return;
    const buttons = Array.from(box.querySelectorAll("button"));
    const same = buttons.length === state.activities.length &&
      buttons.every((b, i) => b.value === state.activities[i].sid && b.textContent === state.activities[i].name);
    if (!same) {
      box.replaceChildren(...state.activities.map((a) => {
        const b = document.createElement("button");
        b.type = "submit";
        b.name = "activity";
        b.value = a.sid;
        b.textContent = a.name;
        if (a.available) b.className = "available";
        return b;
      }));
    }
    for (const b of box.querySelectorAll("button")) {
      b.setAttribute("aria-pressed", String(b.value === state.activity_sid));
    }
  }

  function renderRecent(state) {
    const body = document.querySelector("#recent-calls tbody");
    if (!body) return;
    if (state.recent.length === 0) {
      const tr = document.createElement("tr");
      tr.className = "empty";
      const td = document.createElement("td");
      td.colSpan = 4;
      td.textContent = "No calls yet.";
      tr.append(td);
      body.replaceChildren(tr);
      return;
    }
    body.replaceChildren(...state.recent.map((c) => {
      const tr = document.createElement("tr");
      tr.dataset.reservation = c.reservation_sid;
      const when = document.createElement("td");
      const time = document.createElement("time");
      time.setAttribute("datetime", c.when);
      time.textContent = localTime(c.when);
      when.append(time);
      const what = document.createElement("td");
      what.textContent = c.direction === "outbound" ? "To " + c.number_display
        : "From " + c.number_display + (c.to_your_number ? " (your number)" : " (through " + c.via + ")");
      const outcome = document.createElement("td");
      outcome.textContent = c.label;
      // Call back: shown once the phone is ready (the style sheet hides it
      // until then); phone.js handles the click.
      const back = document.createElement("td");
      if (!c.state && (c.number || "").startsWith("+")) {
        const b = document.createElement("button");
        b.type = "button";
        b.className = "call-back";
        b.dataset.number = c.number;
        b.setAttribute("aria-label", "Call back " + c.number_display);
        b.textContent = "Call back";
        back.append(b);
      }
      tr.append(when, what, outcome, back);
      return tr;
    }));
  }

  // Messages: voicemails and call-back requests waiting for the agent.
  function renderMessages(state) {
    const box = $("messages"), list = $("message-list");
    if (!box || !list) return;
    const messages = state.messages || [];
    box.hidden = messages.length === 0;
    list.replaceChildren(...messages.map((m) => {
      const li = document.createElement("li");
      li.className = "message";
      li.dataset.task = m.task_sid;
      const p = document.createElement("p");
      p.className = "message-text";
      p.textContent = m.text;
      if (m.recording_duration) {
        const d = document.createElement("span");
        d.className = "hint";
        d.textContent = " (" + Math.floor(m.recording_duration / 60) + ":" + String(m.recording_duration % 60).padStart(2, "0") + ")";
        p.append(d);
      }
      li.append(p);
      if (m.recording_url) {
        const audio = document.createElement("audio");
        audio.controls = true;
        audio.preload = "none";
        audio.src = m.recording_url;
        li.append(audio);
      }
      if (m.transcription) {
        const t = document.createElement("p");
        t.className = "transcript";
        t.textContent = m.transcription;
        li.append(t);
      }
      const actions = document.createElement("div");
      actions.className = "actions";
      if ((m.number || "").startsWith("+")) {
        const b = document.createElement("button");
        b.type = "button";
        b.className = "call-back";
        b.dataset.number = m.number;
        b.dataset.task = m.task_sid;
        b.setAttribute("aria-label", "Call back " + m.number_display);
        b.textContent = "Call back";
        actions.append(b);
      }
      const done = document.createElement("button");
      done.type = "button";
      done.className = "message-done";
      done.dataset.task = m.task_sid;
      done.textContent = "Done";
      actions.append(done);
      li.append(actions);
      return li;
    }));
  }

  // A message's actions: Done completes it; Call back takes it (the phone
  // dials the number).
  async function messageAction(task, action) {
    try {
      const r = await fetch("/agent/messages/" + encodeURIComponent(task) + "/" + action, {
        method: "POST", body: new URLSearchParams({ csrf: csrf }), credentials: "same-origin",
        headers: { "X-CSRF-Token": csrf },
      });
      if (r.status === 401) { signedOut("You are signed out. Open a new sign-in link to go on."); return; }
      if (!r.ok) text("notice", (await r.text()).trim() || "The message could not be updated.");
    } catch (e) {
      text("notice", "didrouter cannot be reached; the message may not have changed.");
    }
  }

  document.addEventListener("click", (ev) => {
    const b = ev.target.closest && ev.target.closest("#message-list button");
    if (!b || !b.dataset.task) return;
    messageAction(b.dataset.task, b.classList.contains("message-done") ? "done" : "take");
  });

  // The newest worker version shown: answers and pushes may arrive out of
  // order, and an older state must not undo a newer one.
  let shownVersion = 0;

  function render(state) {
    if (state.version < shownVersion) return;
    shownVersion = state.version;
    text("agent-name", state.name);
    text("my-number", state.number_display || "Not set");
    const copy = $("copy-number");
    if (copy) {
      copy.hidden = !state.number_display;
      copy.dataset.copy = state.number_display || "";
    }
    text("status-name", state.activity_name);
    renderActivities(state);
    const call = $("call-state");
    if (call) {
      call.dataset.state = state.call ? state.call.state : "none";
      call.textContent = state.call ? state.call.text : "No call right now.";
    }
    renderRecent(state);
    renderMessages(state);
    document.dispatchEvent(new CustomEvent("didrouter:state", { detail: state }));
  }

  function signedOut(message) {
    text("connection", message);
    for (const b of document.querySelectorAll("#activities button")) b.disabled = true;
  }

  // Presence: post the pressed button's activity and show the answer.
  const form = $("presence-form");
  if (form) {
    form.addEventListener("submit", async (ev) => {
      const button = ev.submitter;
      if (!button || !button.value) return;
      ev.preventDefault();
      const body = new URLSearchParams({ activity: button.value, csrf: csrf });
      try {
        const r = await fetch(form.action, {
          method: "POST", body: body, credentials: "same-origin",
          headers: { "Accept": "application/json", "X-CSRF-Token": csrf },
        });
        if (r.status === 401) { signedOut("You are signed out. Open a new sign-in link to go on."); return; }
        if (!r.ok) { text("notice", (await r.text()).trim() || "Your status could not be changed."); return; }
        render(await r.json());
      } catch (e) {
        text("notice", "didrouter cannot be reached; your status may not have changed.");
      }
    });
  }

  const copyButton = $("copy-number");
  if (copyButton) {
    copyButton.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(copyButton.dataset.copy || "");
        text("copied", "Copied");
      } catch (e) {
        text("copied", "Select the number to copy it");
      }
      setTimeout(() => text("copied", ""), 2000);
    });
  }

  localizeTimes(document);

  // Live state from the server; EventSource reconnects by itself.
  if (window.EventSource && csrf) {
    const es = new EventSource("/agent/events");
    es.addEventListener("open", () => text("connection", ""));
    es.addEventListener("error", () => {
      // A network error reconnects; an HTTP error (signed out) closes for good.
      text("connection", es.readyState === EventSource.CLOSED
        ? "Disconnected: reload the page to reconnect." : "Reconnecting…");
    });
    es.addEventListener("state", (ev) => render(JSON.parse(ev.data)));
    es.addEventListener("notice", (ev) => {
      const n = JSON.parse(ev.data);
      text("notice", n.text);
      document.dispatchEvent(new CustomEvent("didrouter:notice", { detail: n }));
    });
    es.addEventListener("signedout", (ev) => {
      es.close();
      signedOut(JSON.parse(ev.data).text);
    });
  }
})();
