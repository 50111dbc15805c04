// The admin console: the live board (server-sent events from
// /admin/events say "the board changed"; the page then fetches the board's
// fragment from /admin/board) and copy buttons. Plain JavaScript, no build
// step; every page works without it, the board then updates on reload.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);

  // Copy buttons: data-copy-from names the input whose value is copied.
  for (const b of document.querySelectorAll("button[data-copy-from]")) {
    b.addEventListener("click", async () => {
      const input = $(b.dataset.copyFrom);
      const said = b.parentElement.querySelector(".copied");
      if (!input) return;
      try {
        await navigator.clipboard.writeText(input.value);
        if (said) said.textContent = "Copied.";
      } catch (e) {
        // No clipboard (plain http, an old browser): select it for Ctrl+C.
        input.focus();
        input.select();
        if (said) said.textContent = "Selected: press Ctrl+C (or ⌘C) to copy.";
      }
    });
  }

  const board = $("board");
  if (!board || !window.EventSource) return;
  const live = $("live");
  const say = (text) => { if (live) live.textContent = text; };

  let last = null;
  let fetching = false;
  let again = false;
  async function refresh() {
    if (fetching) { again = true; return; }
    fetching = true;
    try {
      const resp = await fetch("/admin/board", { credentials: "same-origin", headers: { Accept: "text/html" } });
      if (resp.status === 401) { window.location.assign("/admin/signin"); return; }
      if (!resp.ok) { say("The board could not be refreshed (" + resp.status + "); retrying."); return; }
      const html = await resp.text();
      // Unchanged: keep the page as it is (and the keyboard focus in it).
      if (html === last) { say("Live."); return; }
      last = html;
      // The server's own template (html/template escapes every value).
      const doc = new DOMParser().parseFromString("<div>" + html + "</div>", "text/html");
      board.replaceChildren(...doc.body.firstChild.childNodes);
      say("Live.");
    } catch (e) {
      say("The board could not be refreshed; retrying.");
    } finally {
      fetching = false;
      if (again) { again = false; refresh(); }
    }
  }

  let opened = false;
  const events = new EventSource("/admin/events");
  events.addEventListener("open", () => {
    say("Live.");
    if (opened) refresh(); // reconnected: changes may have been missed
    opened = true;
  });
  events.addEventListener("board", refresh);
  events.addEventListener("signedout", () => {
    events.close();
    window.location.assign("/admin/signin");
  });
  events.addEventListener("error", () => {
    if (events.readyState === EventSource.CLOSED) {
      say("Live updates stopped: reload the page.");
      refresh(); // a 401 sends the page to the sign-in form
    } else {
      say("Reconnecting…");
    }
  });
})();
