// dialhook console: the little script the pages use. Everything works
// without it but the live updates of the events page and the copy button.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // Copy buttons: data-copy names the element whose text is copied.
  document.addEventListener("click", function (e) {
    var b = e.target.closest ? e.target.closest("[data-copy]") : null;
    if (!b || !navigator.clipboard) return;
    var el = document.getElementById(b.getAttribute("data-copy"));
    if (!el) return;
    navigator.clipboard.writeText(el.textContent).then(function () {
      b.textContent = "Copied";
      setTimeout(function () { b.textContent = "Copy"; }, 1500);
    });
  });

  // Live updates: poll the events page's fragment endpoint every second
  // (any replica answers it from the shared store) and replace the rows
  // and counts when they changed.
  var root = document.querySelector("[data-live]");
  if (!root) return;
  var url = root.getAttribute("data-live");
  var rows = document.getElementById("rows");
  var counts = document.getElementById("counts");
  var status = document.getElementById("live-status");
  var lastRows = null, lastCounts = null;
  function say(text, cls) {
    if (!status || status.textContent === text) return;
    status.textContent = text;
    status.className = "live " + cls;
  }
  function next() { setTimeout(tick, 1000); }
  function tick() {
    if (document.hidden) { next(); return; }
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) {
        if (r.status === 401) { say("signed out: reload the page to sign in", "off"); throw null; }
        if (!r.ok) throw new Error("status " + r.status);
        return r.json();
      })
      .then(function (d) {
        if (d.rows !== lastRows) { rows.innerHTML = d.rows; lastRows = d.rows; }
        if (d.counts !== lastCounts) { counts.innerHTML = d.counts; lastCounts = d.counts; }
        say("live", "on");
        next();
      })
      .catch(function (err) {
        if (err === null) return; // signed out: stop polling
        say("connection lost: retrying", "off");
        next();
      });
  }
  say("connecting…", "");
  tick();
})();
