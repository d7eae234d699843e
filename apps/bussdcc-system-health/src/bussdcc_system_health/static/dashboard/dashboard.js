/* The live dashboard: mirrors the server's state from a snapshot plus the pushed event stream
 * (protocol: bussdcc_framework.interface.web) and re-renders the cards from that mirror.
 *
 * - A snapshot {seq, state} replaces the mirror. Events before the first snapshot are buffered.
 * - An event applies only if its `prev` is the seq we hold; anything else is a gap (dropped
 *   events, a restart) and we ask for a fresh snapshot ("resync").
 * - An event's `state` carries the derived values it changed; the chart histories are
 *   appended here from the CPU, network and disk I/O events, as the server's SystemProcess does.
 * - While disconnected the page says so and greys the stale values; Socket.IO reconnects on
 *   its own and the server sends a fresh snapshot on connect.
 */
(function () {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const config = JSON.parse($("dashboard-config").textContent);
  const initial = JSON.parse($("initial-snapshot").textContent);

  let state = initial.state || {};
  let seq = initial.seq;
  let synced = false;
  let buffer = [];
  let connection = "connecting";
  let lastUpdate = latestTime(state) || initial.time;
  const stats = { snapshots: 0, events: 0, resyncs: 0, gaps: 0 };

  // --- formatting (mirrors the server's Jinja filters) --------------------------------------

  const isNum = (v) => typeof v === "number" && Number.isFinite(v);
  const num = (v, digits = 2) => (isNum(v) ? v.toFixed(digits) : "–");
  const pct = (v) => (isNum(v) ? v.toFixed(1) + " %" : "–");
  function bytes(v, suffix = "") {
    if (!isNum(v)) return "–";
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let size = v;
    let i = 0;
    while (Math.abs(size) >= 1024 && i < units.length - 1) {
      size /= 1024;
      i += 1;
    }
    return (i === 0 ? size.toFixed(0) : size.toFixed(1)) + " " + units[i] + suffix;
  }
  const rate = (v) => bytes(v, "/s");
  const clock = (iso) => (iso ? String(iso).slice(11, 19) : "–");
  const stamp = (iso) => (iso ? String(iso).slice(0, 19).replace("T", " ") : "–");
  const esc = (s) =>
    String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  const barClass = (p) => (isNum(p) && p >= 90 ? "bg-danger" : isNum(p) && p >= 75 ? "bg-warning" : "");

  // --- the state mirror ---------------------------------------------------------------------

  function at(obj, path) {
    let node = obj;
    for (const part of path.split(".")) {
      if (node === null || typeof node !== "object" || !(part in node)) return undefined;
      node = node[part];
    }
    return node;
  }

  function setAt(obj, path, value) {
    const parts = path.split(".");
    let node = obj;
    for (const part of parts.slice(0, -1)) {
      if (node[part] === null || typeof node[part] !== "object") node[part] = {};
      node = node[part];
    }
    const last = parts[parts.length - 1];
    if (value === null) delete node[last];
    else node[last] = value;
  }

  // Histories are columns of equal length ({t: [...], user: [...], ...}), as the server
  // keeps them; members of a group (interfaces) come and go, padded with null.
  function pushColumns(columns, values, length) {
    for (const [key, value] of Object.entries(values)) {
      const column = Array.isArray(columns[key]) ? columns[key] : new Array(length).fill(null);
      column.push(value === undefined ? null : value);
      columns[key] = column.slice(-config.historyLimit);
    }
  }

  // The wire writes UTC as "Z", the server's state (Python's isoformat) as "+00:00": the
  // history's time column is kept in the server's form, so page and server agree exactly.
  function stateTime(wireTime) {
    return typeof wireTime === "string" ? wireTime.replace(/Z$/, "+00:00") : wireTime;
  }

  function appendHistory(path, values, group, members, memberKeys) {
    const history = at(state, path) || {};
    const length = Array.isArray(history.t) ? history.t.length : 0;
    pushColumns(history, values, length);
    if (group) {
      const current = history[group] || {};
      const blank = Object.fromEntries(memberKeys.map((k) => [k, null]));
      for (const name of new Set([...Object.keys(current), ...Object.keys(members)])) {
        current[name] = current[name] || {};
        pushColumns(current[name], members[name] || blank, length);
        if (Object.values(current[name]).every((c) => c.every((v) => v === null))) delete current[name];
      }
      history[group] = current;
    }
    setAt(state, path, history);
  }

  function latestTime(s) {
    const cpu = at(s, "system.cpu.usage");
    return cpu ? cpu.time : null;
  }

  function apply(rec) {
    if (rec.state) {
      for (const [path, value] of Object.entries(rec.state)) setAt(state, path, value);
    }
    const d = rec.data;
    if (rec.name === "system.cpu.usage.updated") {
      appendHistory(config.historyPaths.cpu, { t: stateTime(rec.time), user: d.user, system: d.system, iowait: d.iowait, total: d.busy });
    } else if (rec.name === "system.network.usage.updated") {
      const interfaces = {};
      for (const i of d.interfaces || []) interfaces[i.interface] = { rx: i.rx_bytes_per_s, tx: i.tx_bytes_per_s };
      appendHistory(config.historyPaths.network, { t: stateTime(rec.time), rx: d.rx_bytes_per_s, tx: d.tx_bytes_per_s }, "interfaces", interfaces, ["rx", "tx"]);
    } else if (rec.name === "system.disk.io.updated") {
      const devices = {};
      for (const x of d.devices || []) devices[x.device] = { read: x.read_bytes_per_s, write: x.write_bytes_per_s, busy: x.busy };
      appendHistory(config.historyPaths.disk_io, { t: stateTime(rec.time), read: d.read_bytes_per_s, write: d.write_bytes_per_s }, "devices", devices, ["read", "write", "busy"]);
    }
    if (rec.name.startsWith("system.")) lastUpdate = rec.time;
    seq = rec.seq;
    stats.events += 1;
  }

  function onEvent(rec) {
    if (!synced) {
      buffer.push(rec);
      return;
    }
    if (rec.seq <= seq) return; // already part of the snapshot
    if (rec.prev !== seq) {
      stats.gaps += 1;
      resync();
      buffer.push(rec);
      return;
    }
    apply(rec);
    scheduleRender();
  }

  function onSnapshot(snap) {
    state = snap.state || {};
    seq = snap.seq;
    synced = true;
    stats.snapshots += 1;
    lastUpdate = latestTime(state) || snap.time;
    const pending = buffer.sort((a, b) => a.seq - b.seq);
    buffer = [];
    setConnection("live");
    for (const rec of pending) onEvent(rec);
    scheduleRender();
  }

  function resync() {
    synced = false;
    buffer = [];
    stats.resyncs += 1;
    socket.emit("resync");
  }

  // --- rendering ----------------------------------------------------------------------------

  const HEALTH_CLASS = { ok: "success", warning: "warning", critical: "danger" };

  function text(id, value) {
    const el = $(id);
    if (el && el.textContent !== value) el.textContent = value;
  }

  function setBar(id, percent) {
    const box = $(id);
    if (!box) return;
    const bar = box.querySelector(".progress-bar");
    box.setAttribute("aria-valuenow", isNum(percent) ? percent.toFixed(0) : "0");
    bar.style.width = (isNum(percent) ? percent : 0) + "%";
    bar.className = "progress-bar " + barClass(percent);
  }

  const barHtml = (percent) =>
    `<div class="progress" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow="${isNum(percent) ? percent.toFixed(0) : 0}">` +
    `<div class="progress-bar ${barClass(percent)}" style="width: ${isNum(percent) ? percent : 0}%"></div></div>`;

  const unavailableHtml = (reason) =>
    `<div class="unavailable"><span class="badge text-bg-secondary">unavailable</span> <span class="small text-secondary">${esc(reason || "")}</span></div>`;

  function renderHealth() {
    const h = Object.assign({ status: "unknown", reasons: [], notes: [], since: null }, at(state, "system.health") || {});
    const cls = HEALTH_CLASS[h.status] || "secondary";
    const badge = $("health-status");
    badge.textContent = h.status;
    badge.className = "badge fs-4 px-4 py-2 text-bg-" + cls;
    $("health-card").className = "card h-100 shadow-sm health-card border-" + cls;
    const reasons = h.reasons.length
      ? h.reasons.map((r) => `<li>${esc(r)}</li>`).join("")
      : `<li class="text-secondary">${h.status === "ok" ? "All checks within thresholds." : "Waiting for telemetry…"}</li>`;
    const list = $("health-reasons");
    if (list.innerHTML !== reasons) list.innerHTML = reasons;
    text("health-notes", (h.notes || []).join(" · "));
    text("health-since", stamp(h.since));
  }

  // Uptime at the latest telemetry (not the wall clock), as the server renders it.
  function uptime(bootIso, nowIso) {
    const seconds = Math.floor((Date.parse(nowIso) - Date.parse(bootIso)) / 1000);
    if (!Number.isFinite(seconds) || seconds < 0) return "–";
    const days = Math.floor(seconds / 86400);
    const hours = Math.floor((seconds % 86400) / 3600);
    const minutes = Math.floor((seconds % 3600) / 60);
    return (days ? `${days} d ` : "") + `${hours} h ${minutes} min`;
  }

  function renderIdentity() {
    const ident = at(state, "system.identity") || {};
    for (const dd of document.querySelectorAll("[data-identity]")) {
      const key = dd.dataset.identity;
      const value = key === "uptime" ? ident.boot_time : ident[key];
      const shown = key === "uptime" ? uptime(value, lastUpdate) : key === "boot_time" ? stamp(value) : String(value);
      dd.textContent = value ? shown : "unavailable";
    }
    text("nav-host", ident.hostname || "");
    document.title = "System Health" + (ident.hostname ? " · " + ident.hostname : "");
  }

  function renderCpu() {
    const cpu = at(state, "system.cpu.usage");
    for (const key of ["user", "system", "iowait", "idle"]) text("cpu-" + key, cpu ? pct(cpu[key]) : "–");
    text("cpu-busy", cpu ? pct(cpu.busy) : "–");
    const parts = $("cpu-bar").children;
    ["user", "system", "iowait"].forEach((key, i) => {
      parts[i].style.width = (cpu && isNum(cpu[key]) ? cpu[key] : 0) + "%";
    });
    // Busy per core: one small bar each, 16 to a row, so 64 cores still fit a phone.
    const cores = (cpu && cpu.cores) || [];
    text("cpu-cores-count", cores.length ? cores.length + " cores" : "");
    const strip = $("cpu-cores");
    strip.style.setProperty("--cols", String(Math.max(1, Math.min(cores.length, 16))));
    while (strip.children.length > cores.length) strip.lastElementChild.remove();
    while (strip.children.length < cores.length) {
      const cell = document.createElement("div");
      cell.className = "core";
      cell.appendChild(document.createElement("div"));
      strip.appendChild(cell);
    }
    cores.forEach((c, i) => {
      const cell = strip.children[i];
      cell.title = `core ${c.core}: ${pct(c.busy)}`;
      cell.firstElementChild.className = "core-fill " + barClass(c.busy);
      cell.firstElementChild.style.height = (isNum(c.busy) ? c.busy : 0) + "%";
    });
  }

  function renderMemory() {
    const mem = at(state, "system.memory.usage");
    text("mem-percent", mem ? pct(mem.percent) : "–");
    setBar("mem-bar", mem ? mem.percent : null);
    text("mem-detail", mem ? `${bytes(mem.total - mem.available)} of ${bytes(mem.total)}` : "–");
    text("swap-percent", mem ? (mem.swap_total ? pct(mem.swap_percent) : "none") : "–");
    setBar("swap-bar", mem ? mem.swap_percent : null);
    text("swap-detail", mem ? (mem.swap_total ? `${bytes(mem.swap_used)} of ${bytes(mem.swap_total)}` : "no swap configured") : "–");
  }

  function renderLoad() {
    const load = at(state, "system.load");
    for (const key of ["load1", "load5", "load15"]) {
      text(key, load ? num(load[key]) : "–");
      text(key + "-per-core", load ? num(load[key + "_per_core"]) : "–");
    }
    text("load-cores", load ? String(load.cores) : "–");
    text("load-processes", load && isNum(load.processes) ? String(load.processes) : "–");
  }

  function renderDisks() {
    const disk = at(state, "system.disk.usage");
    const filesystems = (disk && disk.filesystems) || [];
    const html = filesystems.length
      ? filesystems
          .map(
            (fs) =>
              `<div class="mb-2"><div class="d-flex justify-content-between small"><span class="text-truncate" title="${esc(fs.device)} (${esc(fs.fstype)})">${esc(fs.mountpoint)}</span><strong>${pct(fs.percent)}</strong></div>` +
              barHtml(fs.percent) +
              `<div class="small text-secondary">${bytes(fs.used)} of ${bytes(fs.total)} · ${bytes(fs.free)} free</div></div>`,
          )
          .join("")
      : `<div class="text-secondary small">No filesystems reported yet.</div>`;
    const wear = at(state, "system.storage.wear");
    const range = (e) => (!e ? "–" : e.exceeded ? "exceeded" : e.used_min === null || e.used_max === null ? "–" : `${e.used_min}-${e.used_max} %`);
    const eol = { warning: "text-bg-warning", urgent: "text-bg-danger" };
    const wearHtml = !wear
      ? ""
      : wear.available
        ? (wear.devices || [])
            .map(
              (w) =>
                `<div title="${esc(w.model || "")}"><strong>${esc(w.device)}</strong> wear: life used ${range(w.life_time_a)} (A) · ${range(w.life_time_b)} (B) · pre-EOL <span class="badge ${eol[w.pre_eol] || "text-bg-success"}">${esc(w.pre_eol)}</span></div>`,
            )
            .join("")
        : `<span class="text-secondary" title="${esc(wear.reason || "")}">flash wear not reported</span>`;
    const all = html + `<div class="small mt-2" id="wear">${wearHtml}</div>`;
    if ($("disks").innerHTML !== all) $("disks").innerHTML = all;
  }

  function renderDiskIo() {
    const dio = at(state, "system.disk.io");
    text("dio-read", dio ? rate(dio.read_bytes_per_s) : "–");
    text("dio-write", dio ? rate(dio.write_bytes_per_s) : "–");
    const devices = (dio && dio.devices) || [];
    const html = devices.length
      ? devices
          .map(
            (d) =>
              `<tr><td class="${d.whole ? "" : "ps-3 text-secondary"}">${esc(d.device)}</td><td class="text-end">${rate(d.read_bytes_per_s)}</td><td class="text-end">${rate(d.write_bytes_per_s)}</td><td class="text-end">${pct(d.busy)}</td></tr>`,
          )
          .join("")
      : `<tr><td colspan="4" class="text-secondary">No block devices reported yet.</td></tr>`;
    if ($("dio-devices").innerHTML !== html) $("dio-devices").innerHTML = html;
  }

  function renderNetwork() {
    const net = at(state, "system.network.usage");
    text("net-rx", net ? rate(net.rx_bytes_per_s) : "–");
    text("net-tx", net ? rate(net.tx_bytes_per_s) : "–");
    const interfaces = (net && net.interfaces) || [];
    const html = interfaces.length
      ? interfaces
          .map((i) => `<tr><td>${esc(i.interface)}</td><td class="text-end">${rate(i.rx_bytes_per_s)}</td><td class="text-end">${rate(i.tx_bytes_per_s)}</td></tr>`)
          .join("")
      : `<tr><td colspan="3" class="text-secondary">No interfaces reported yet.</td></tr>`;
    if ($("net-interfaces").innerHTML !== html) $("net-interfaces").innerHTML = html;
  }

  function renderTemps() {
    const temp = at(state, "system.temperature");
    let html;
    if (!temp) html = `<div class="text-secondary small">No reading yet.</div>`;
    else if (!temp.available) html = unavailableHtml(temp.reason);
    else {
      html =
        `<div class="row g-2">` +
        (temp.sensors || [])
          .map((s) => {
            const cls = s.critical && s.current >= s.critical ? "text-danger" : s.high && s.current >= s.high ? "text-warning" : "";
            return (
              `<div class="col-6"><div class="border rounded p-2 h-100"><div class="small text-secondary text-truncate">${esc(s.name)}${s.label ? " · " + esc(s.label) : ""}</div>` +
              `<div class="fs-5 fw-semibold ${cls}">${num(s.current, 1)} °C</div></div></div>`
            );
          })
          .join("") +
        `</div>`;
    }
    if ($("temps").innerHTML !== html) $("temps").innerHTML = html;
    const fans = at(state, "system.fans");
    const fansHtml =
      fans && fans.available
        ? (fans.fans || []).map((f) => `<span class="me-3">fan ${esc(f.name)}${f.label ? " · " + esc(f.label) : ""} <strong>${f.rpm} RPM</strong></span>`).join("")
        : `<span class="text-secondary" title="${esc((fans && fans.reason) || "")}">no fans</span>`;
    if ($("fans").innerHTML !== fansHtml) $("fans").innerHTML = fansHtml;
  }

  const FLAGS = [
    ["under_voltage", "Under-voltage"],
    ["frequency_capped", "Frequency capped"],
    ["throttled", "Throttled"],
    ["soft_temperature_limit", "Soft temperature limit"],
  ];

  function renderThrottling() {
    const thr = at(state, "system.throttling");
    let html;
    if (!thr) html = `<div class="text-secondary small">No reading yet.</div>`;
    else if (!thr.available) html = unavailableHtml(thr.reason);
    else {
      const cell = (when, key) =>
        `<td class="text-center">${when && when[key] ? '<span class="badge text-bg-danger">yes</span>' : '<span class="badge text-bg-success">no</span>'}</td>`;
      html =
        `<table class="table table-sm mb-0 small"><thead><tr><th></th><th class="text-center">now</th><th class="text-center">since boot</th></tr></thead><tbody>` +
        FLAGS.map(([key, label]) => `<tr><td>${label}</td>${cell(thr.now, key)}${cell(thr.since_boot, key)}</tr>`).join("") +
        `</tbody></table>`;
    }
    if ($("throttling").innerHTML !== html) $("throttling").innerHTML = html;
  }

  // --- charts -------------------------------------------------------------------------------

  const css = getComputedStyle(document.documentElement);
  const color = (name) => css.getPropertyValue(name).trim();
  const charts = {};

  function makeChart(id, datasets, yOptions) {
    if (typeof Chart === "undefined") return null;
    return new Chart($(id), {
      type: "line",
      data: { labels: [], datasets },
      options: {
        animation: false,
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        elements: { point: { radius: 0 }, line: { borderWidth: 1.5, tension: 0.2 } },
        plugins: { legend: { display: false } },
        scales: { x: { ticks: { maxTicksLimit: 6, maxRotation: 0 } }, y: yOptions },
      },
    });
  }

  function series(label, varName, fill) {
    return { label, data: [], borderColor: color(varName), backgroundColor: color(varName) + "99", fill };
  }

  function setupCharts() {
    charts.cpu = makeChart(
      "cpu-chart",
      [series("user", "--cpu-user", "origin"), series("system", "--cpu-system", "-1"), series("iowait", "--cpu-iowait", "-1")],
      { stacked: true, min: 0, max: 100, ticks: { callback: (v) => v + " %" } },
    );
    charts.net = makeChart("net-chart", [series("rx", "--net-rx", false), series("tx", "--net-tx", false)], {
      min: 0,
      ticks: { callback: (v) => rate(v), maxTicksLimit: 5 },
    });
    charts.dio = makeChart("dio-chart", [series("read", "--disk-read", false), series("write", "--disk-write", false)], {
      min: 0,
      ticks: { callback: (v) => rate(v), maxTicksLimit: 5 },
    });
  }

  function renderCharts() {
    const cpu = at(state, config.historyPaths.cpu) || {};
    if (charts.cpu) {
      charts.cpu.data.labels = (cpu.t || []).map(clock);
      ["user", "system", "iowait"].forEach((key, i) => {
        charts.cpu.data.datasets[i].data = (cpu[key] || []).slice();
      });
      charts.cpu.update("none");
    }
    const net = at(state, config.historyPaths.network) || {};
    if (charts.net) {
      charts.net.data.labels = (net.t || []).map(clock);
      charts.net.data.datasets[0].data = (net.rx || []).slice();
      charts.net.data.datasets[1].data = (net.tx || []).slice();
      charts.net.update("none");
    }
    const dio = at(state, config.historyPaths.disk_io) || {};
    if (charts.dio) {
      charts.dio.data.labels = (dio.t || []).map(clock);
      charts.dio.data.datasets[0].data = (dio.read || []).slice();
      charts.dio.data.datasets[1].data = (dio.write || []).slice();
      charts.dio.update("none");
    }
  }

  let renderPending = false;
  function scheduleRender() {
    if (renderPending) return;
    renderPending = true;
    // At most one render per frame however many events arrive; hidden tabs skip frames.
    requestAnimationFrame(() => {
      renderPending = false;
      render();
    });
  }

  function render() {
    renderHealth();
    renderIdentity();
    renderCpu();
    renderMemory();
    renderLoad();
    renderDisks();
    renderNetwork();
    renderDiskIo();
    renderTemps();
    renderThrottling();
    renderCharts();
    text("updated-at", clock(lastUpdate));
  }

  // --- connection ---------------------------------------------------------------------------

  const BADGES = {
    connecting: ["text-bg-secondary", "connecting…"],
    syncing: ["text-bg-info", "syncing…"],
    live: ["text-bg-success", "live"],
    disconnected: ["text-bg-danger", "disconnected"],
  };

  function setConnection(name, label) {
    connection = name;
    document.body.dataset.connection = name;
    const [cls, defaultLabel] = BADGES[name];
    const badge = $("conn-badge");
    badge.className = "badge rounded-pill " + cls;
    badge.textContent = label || defaultLabel;
    const banner = $("stale-banner");
    banner.hidden = name !== "disconnected";
    if (name === "disconnected") text("stale-since", clock(lastUpdate));
  }

  setupCharts();
  render();

  const socket = io({ transports: ["websocket", "polling"] });
  socket.on("connect", () => setConnection("syncing"));
  socket.on("snapshot", onSnapshot);
  socket.on("events", (records) => records.forEach(onEvent));
  socket.on("disconnect", (reason) => {
    synced = false;
    buffer = [];
    setConnection("disconnected");
    // The client reconnects by itself except after a deliberate server-side disconnect.
    if (reason === "io server disconnect") setTimeout(() => socket.connect(), 1000);
  });
  socket.on("connect_error", () => {
    if (connection !== "disconnected") setConnection("disconnected");
  });
  socket.io.on("reconnect_attempt", (attempt) => setConnection("disconnected", `reconnecting (${attempt})…`));

  // For diagnostics (and the browser tests): what the page holds, read-only.
  window.dashboard = {
    get seq() { return seq; },
    get connection() { return connection; },
    get stats() { return Object.assign({}, stats); },
    state: () => JSON.parse(JSON.stringify(state)),
  };
})();
