/*
 * The replay bar (replay mode only): pause/resume, speed and seek through /api/replay,
 * and the progress it answers. The progress is fetched every second and after each
 * control: that survives the moment a seek backwards restarts the replay (the Socket.IO
 * connection drops and resyncs then), and keeps replay control out of the event stream.
 */
(function () {
  "use strict";
  const bar = document.getElementById("replay-bar");
  if (!bar) return;
  const toggle = document.getElementById("replay-toggle");
  const speed = document.getElementById("replay-speed");
  const seek = document.getElementById("replay-seek");
  const position = document.getElementById("replay-position");
  const percent = document.getElementById("replay-percent");
  const events = document.getElementById("replay-events");
  const state = document.getElementById("replay-state");
  let dragging = false;

  function show(p) {
    toggle.textContent = p.paused ? "Resume" : "Pause";
    toggle.dataset.replayAction = p.paused ? "resume" : "pause";
    toggle.setAttribute("aria-pressed", p.paused ? "true" : "false");
    if (document.activeElement !== speed) speed.value = String(p.speed);
    position.textContent = p.position ? p.position.replace("T", " ").replace(/(\.\d+)?Z$/, " UTC") : "–";
    percent.textContent = p.fraction === null ? "–" : (p.fraction * 100).toFixed(1) + " %";
    events.textContent = p.events.toLocaleString();
    if (!dragging && p.fraction !== null) seek.value = String(Math.round(p.fraction * 1000));
    state.textContent = p.seeking ? "seeking…" : p.ended ? "ended" : p.loop ? "round " + p.round : "";
    bar.dataset.replayPaused = p.paused ? "true" : "false";
  }

  function post(action, body) {
    return fetch("/api/replay/" + action, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body || {}),
    })
      .then((r) => r.json())
      .then(show)
      .catch(() => {});
  }

  function poll() {
    fetch("/api/replay", { cache: "no-store" })
      .then((r) => r.json())
      .then(show)
      .catch(() => {});
  }

  toggle.addEventListener("click", () => post(toggle.dataset.replayAction));
  speed.addEventListener("change", () => post("speed", { speed: Number(speed.value) }));
  seek.addEventListener("input", () => { dragging = true; });
  seek.addEventListener("change", () => {
    dragging = false;
    post("seek", { fraction: Number(seek.value) / 1000 });
  });
  poll();
  setInterval(poll, 1000);
})();
