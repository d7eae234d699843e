/* The live dashboard, on the framework's live client (/bussdcc/static/live.js).
 *
 * The server renders every card, first for the page and then again whenever a card's state
 * changes; live.js swaps those views into the elements marked data-live-view. What is left
 * here is what only a browser can do: draw the charts from the raw numbers the server sends
 * (labels and axis unit included) or from /api/history, and show the connection state (badge,
 * stale banner). No card markup or threshold lives in this file.
 *
 * Every chart has a range selector (live, 1 h ... 1 y) and drag-to-zoom. "live" is the
 * last five minutes as they happen: the CPU, network and disk I/O charts from the pushed samples,
 * the others (and per-core CPU) from /api/history, refreshed every 10 s. Any other range,
 * and a zoom (drag across the chart), is one /api/history query; the health changes and
 * throttling in it are drawn as vertical marks.
 */
(function () {
  "use strict";

  const $ = (id) => document.getElementById(id);
  // On the fleet hub a node's page follows that node's stream (body data-live-namespace and
  // data-live-node); on a single host the page's own origin and namespace.
  const body = document.body.dataset;
  const options = { initial: bussdcc.readJSON("initial-snapshot") };
  if (body.liveNamespace) {
    options.url = body.liveNamespace;
    options.socket = { auth: { node: body.liveNode } };
  }
  const live = bussdcc.live(options);

  const css = getComputedStyle(document.documentElement);
  const color = (name) => css.getPropertyValue(name).trim();
  const LIVE_SECONDS = 300;
  const REFRESH_MS = 10000;
  const POINTS = 300;
  const PALETTE = ["--series-0", "--series-1", "--series-2", "--series-3", "--series-4", "--series-5", "--series-6", "--series-7"];
  const UNITS = (document.body.dataset.byteUnits || "B").split(" ");

  // --- the history API ----------------------------------------------------------------------

  let known = null; // the stored series names, fetched once per range change

  async function storedSeries() {
    const response = await fetch("/api/history/series", { cache: "no-store" });
    known = response.ok ? (await response.json()).series : [];
    return known;
  }

  // "cpu.user disk.*.percent" -> the stored names it means, in order ("*": any run of characters).
  function expand(spec, names) {
    const out = [];
    for (const part of spec.split(" ").filter(Boolean)) {
      const star = part.indexOf("*");
      if (star >= 0) {
        const prefix = part.slice(0, star);
        const suffix = part.slice(star + 1);
        const fits = (name) => name.length >= part.length - 1 && name.startsWith(prefix) && name.endsWith(suffix);
        for (const name of names) if (fits(name) && !out.includes(name)) out.push(name);
      } else if (names.includes(part)) {
        out.push(part);
      }
    }
    return out;
  }

  // --- time labels (UTC, like the rest of the page) -----------------------------------------

  const pad = (n) => String(n).padStart(2, "0");
  function timeLabel(ms, span) {
    const d = new Date(ms);
    const clock = pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes());
    if (span <= 86400) return span <= 600 ? clock + ":" + pad(d.getUTCSeconds()) : clock;
    const day = pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate());
    return span > 90 * 86400 ? d.getUTCFullYear() + "-" + day : day + " " + clock;
  }

  // --- marks and the drag selection, drawn by one plugin --------------------------------------

  function markColour(mark) {
    if (mark.name === "system.health.changed") {
      return color({ critical: "--bs-danger", warning: "--bs-warning", ok: "--bs-success" }[mark.data.status] || "--bs-secondary");
    }
    const now = (mark.data && mark.data.now) || {};
    return color(now.under_voltage ? "--bs-danger" : "--bs-orange");
  }

  const overlay = {
    id: "historyOverlay",
    afterDatasetsDraw(chart) {
      const entry = chart.$entry;
      if (!entry) return;
      const { ctx, chartArea: area, scales } = chart;
      ctx.save();
      for (const mark of entry.marks) {
        const x = scales.x.getPixelForValue(mark.index);
        ctx.strokeStyle = markColour(mark);
        ctx.lineWidth = 2;
        ctx.setLineDash(mark.name === "system.health.changed" ? [] : [4, 3]);
        ctx.beginPath();
        ctx.moveTo(x, area.top);
        ctx.lineTo(x, area.bottom);
        ctx.stroke();
      }
      if (entry.drag) {
        const left = Math.min(entry.drag.from, entry.drag.to);
        ctx.fillStyle = "rgba(13, 110, 253, 0.15)";
        ctx.fillRect(left, area.top, Math.abs(entry.drag.to - entry.drag.from), area.bottom - area.top);
      }
      ctx.restore();
    },
  };

  // --- charts -------------------------------------------------------------------------------

  const charts = {}; // chart name -> entry

  function dataset(label, varName, fill) {
    return { label, data: [], borderColor: color(varName), backgroundColor: color(varName) + "99", fill };
  }

  function axisUnit(entry) {
    const unit = entry.canvas.dataset.unit || "";
    if (unit === "bytes") return (v) => +(v / entry.scale).toFixed(1) + " " + entry.unit;
    return (v) => +v.toFixed(2) + (unit ? " " + unit : "");
  }

  function makeChart(name, options) {
    const canvas = document.querySelector('canvas[data-chart="' + name + '"]');
    if (typeof Chart === "undefined" || !canvas) return;
    const entry = {
      name,
      canvas,
      tools: document.querySelector('[data-chart-tools="' + name + '"]'),
      pushed: options.pushed || null, // live datasets fed by the server's samples
      stacked: !!options.stacked,
      percent: canvas.dataset.unit === "%",
      limit: Number(canvas.dataset.chartLimit) || LIVE_SECONDS,
      range: "live",
      zoom: null, // [startMs, endMs] while zoomed
      times: [], // ms of each x position
      marks: [],
      series: [],
      buffer: { t: [], labels: [], columns: {} }, // the pushed samples, kept in every mode
      scale: 1,
      unit: UNITS[0] + "/s",
      perCore: false,
      requests: 0,
      timer: null,
    };
    const y = { min: 0, stacked: entry.stacked, ticks: { callback: axisUnit(entry), maxTicksLimit: 5 } };
    if (entry.percent) y.max = 100;
    entry.chart = new Chart(canvas, {
      type: "line",
      data: { labels: [], datasets: entry.pushed ? entry.pushed.map((p) => dataset(...p)) : [] },
      options: {
        animation: false,
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        elements: { point: { radius: 0 }, line: { borderWidth: 1.5, tension: 0.2 } },
        plugins: { legend: { display: !entry.pushed, position: "bottom", labels: { boxWidth: 10, font: { size: 10 } } } },
        scales: { x: { ticks: { maxTicksLimit: 6, maxRotation: 0 } }, y },
      },
      plugins: [overlay],
    });
    entry.chart.$entry = entry;
    charts[name] = entry;
    wireTools(entry);
    wireDrag(entry);
    if (!entry.pushed) showRange(entry);
  }


  // Whether the chart shows the server's pushed samples (live CPU, network and disk I/O only).
  const showsPushed = (entry) => entry.pushed && entry.range === "live" && !entry.zoom && !entry.perCore;

  function setStatus(entry, text) {
    const status = entry.tools && entry.tools.querySelector("[data-chart-status]");
    if (status) status.textContent = text;
  }

  // --- live: the server's samples -----------------------------------------------------------

  // A snapshot's chart view is the whole history; a record's is its newest sample.
  function feedChart(entry, view, isSnapshot) {
    if (!view.labels) return;
    const buffer = entry.buffer;
    const times = view.t || [];
    // A sample the chart already has (its snapshot was newer than the record) is skipped.
    const fresh = times.map((t, i) => i).filter((i) => isSnapshot || !(entry.last >= times[i]));
    if (!fresh.length && !isSnapshot) return;
    const pick = (list) => fresh.map((i) => (list || [])[i]);
    const trim = (list, extra) => (isSnapshot ? extra : list.concat(extra)).slice(-entry.limit);
    buffer.t = trim(buffer.t, pick(times));
    buffer.labels = trim(buffer.labels, pick(view.labels));
    for (const [key] of entry.pushed) buffer.columns[key] = trim(buffer.columns[key] || [], pick((view.columns || {})[key]));
    entry.last = fresh.length ? times[fresh[fresh.length - 1]] : undefined;
    if (view.unit) Object.assign(entry.buffer, { scale: view.scale, unit: view.unit });
    if (showsPushed(entry)) drawPushed(entry);
  }

  function drawPushed(entry) {
    const chart = entry.chart;
    const buffer = entry.buffer;
    chart.data.labels = buffer.labels.slice();
    chart.data.datasets = entry.pushed.map((p) => dataset(...p));
    entry.pushed.forEach(([key], i) => {
      chart.data.datasets[i].data = (buffer.columns[key] || []).slice();
    });
    entry.times = buffer.t.map((t) => Date.parse(t));
    entry.marks = [];
    entry.series = entry.pushed.map(([key]) => key);
    if (buffer.unit) Object.assign(entry, { scale: buffer.scale, unit: buffer.unit });
    chart.options.plugins.legend.display = false;
    chart.options.scales.y.stacked = entry.stacked;
    chart.update("none");
  }

  live.on("views", (views, isSnapshot) => {
    for (const entry of Object.values(charts)) if (entry.pushed && views[entry.name]) feedChart(entry, views[entry.name], isSnapshot);
    const host = $("nav-host").textContent.trim();
    document.title = "System Health" + (host ? " · " + host : "");
  });

  // --- history: /api/history ----------------------------------------------------------------

  function rangeWindow(entry) {
    if (entry.zoom) return entry.zoom;
    const end = Date.now();
    const seconds = entry.range === "live" ? LIVE_SECONDS : Number(entry.range);
    return [end - seconds * 1000, end];
  }

  async function loadHistory(entry) {
    const request = ++entry.requests;
    const [start, end] = rangeWindow(entry);
    const names = expand(entry.perCore ? "cpu.core.*" : entry.canvas.dataset.historySeries, known || (await storedSeries()));
    if (request !== entry.requests) return; // a newer range was chosen meanwhile
    if (!names.length) {
      setStatus(entry, "no history yet");
      draw(entry, { series: {}, events: [], step: 0 }, start, end, []);
      return;
    }
    const query = new URLSearchParams({ start: new Date(start).toISOString(), end: new Date(end).toISOString(), points: String(POINTS) });
    for (const name of names) query.append("series", name);
    entry.lastQuery = "/api/history?" + query;
    let answer;
    try {
      const response = await fetch(entry.lastQuery, { cache: "no-store" });
      answer = await response.json();
      if (!response.ok) throw new Error(answer.error || response.statusText);
    } catch (err) {
      if (request === entry.requests) setStatus(entry, "history unavailable: " + err.message);
      return;
    }
    if (request !== entry.requests || showsPushed(entry)) return;
    draw(entry, answer, start, end, names);
  }

  // Labels for a series: what is left after the part every series of the chart shares.
  function seriesLabel(name, names) {
    if (names.length === 1) return name.split(".").slice(1).filter((p, i, all) => i < all.length - 1 || !/^(percent|busy)$/.test(p)).join(".") || name;
    const parts = names.map((n) => n.split("."));
    let head = 0;
    while (parts.every((p) => p.length > head + 1 && p[head] === parts[0][head])) head += 1;
    let tail = 0;
    while (parts.every((p) => p.length > head + tail + 1 && p[p.length - 1 - tail] === parts[0][parts[0].length - 1 - tail])) tail += 1;
    return name.split(".").slice(head, tail ? -tail : undefined).join(".");
  }

  function draw(entry, answer, start, end, names) {
    const span = (end - start) / 1000;
    const stamps = new Set();
    for (const points of Object.values(answer.series)) for (const p of points) stamps.add(Date.parse(p[0]));
    const times = [...stamps].sort((a, b) => a - b);
    const index = new Map(times.map((t, i) => [t, i]));
    const chart = entry.chart;
    const stacked = entry.stacked && !entry.perCore;
    chart.data.labels = times.map((t) => timeLabel(t, span));
    chart.data.datasets = names.map((name, i) => {
      const varName = entry.pushed && !entry.perCore && entry.pushed[i] ? entry.pushed[i][1] : PALETTE[i % PALETTE.length];
      const fill = stacked ? (i === 0 ? "origin" : "-1") : false;
      const ds = dataset(seriesLabel(name, names), varName, fill);
      ds.data = new Array(times.length).fill(null);
      for (const [iso, , avg] of answer.series[name] || []) ds.data[index.get(Date.parse(iso))] = avg;
      ds.spanGaps = false;
      return ds;
    });
    entry.times = times;
    entry.series = names;
    entry.step = answer.step;
    entry.marks = [];
    for (const evt of answer.events || []) {
      const t = Date.parse(evt.time);
      const i = nearest(times, t);
      if (i !== null) entry.marks.push(Object.assign({ index: i }, evt));
    }
    if (entry.canvas.dataset.unit === "bytes") {
      const peak = Math.max(0, ...chart.data.datasets.flatMap((d) => d.data.filter((v) => v !== null)));
      let scale = 1;
      let unit = 0;
      while (unit < UNITS.length - 1 && peak >= scale * 1024) {
        scale *= 1024;
        unit += 1;
      }
      Object.assign(entry, { scale, unit: UNITS[unit] + "/s" });
    }
    chart.options.plugins.legend.display = names.length > 1 || !entry.pushed;
    chart.options.scales.y.stacked = stacked;
    chart.update("none");
    const marks = entry.marks.length ? " · " + entry.marks.length + " mark" + (entry.marks.length > 1 ? "s" : "") : "";
    setStatus(entry, times.length ? (answer.step ? "every " + answer.step + " s" : "") + marks : "no data in this range");
  }

  // The index of the time closest to t, or null when t is outside the drawn times.
  function nearest(times, t) {
    if (!times.length || t < times[0] || t > times[times.length - 1] + 1) return null;
    let lo = 0;
    let hi = times.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (times[mid] < t) lo = mid + 1;
      else hi = mid;
    }
    return lo > 0 && t - times[lo - 1] < times[lo] - t ? lo - 1 : lo;
  }

  // --- range selector, per-core switch, zoom ------------------------------------------------

  function showRange(entry) {
    clearInterval(entry.timer);
    entry.timer = null;
    if (entry.tools) {
      for (const button of entry.tools.querySelectorAll("[data-range]")) {
        const on = button.dataset.range === entry.range && !entry.zoom;
        button.classList.toggle("active", on);
        button.setAttribute("aria-pressed", String(on));
      }
      entry.tools.querySelector("[data-zoom-reset]").hidden = !entry.zoom;
    }
    if (showsPushed(entry)) {
      setStatus(entry, "");
      drawPushed(entry);
      return;
    }
    setStatus(entry, "loading…");
    loadHistory(entry);
    if (entry.range === "live" && !entry.zoom) entry.timer = setInterval(() => loadHistory(entry), REFRESH_MS);
  }

  function wireTools(entry) {
    if (!entry.tools) return;
    entry.tools.addEventListener("click", (event) => {
      const button = event.target.closest("[data-range], [data-zoom-reset]");
      if (!button) return;
      if (button.dataset.range) entry.range = button.dataset.range;
      entry.zoom = null;
      known = null; // series may have appeared since
      showRange(entry);
    });
    const perCore = entry.tools.querySelector("[data-per-core]");
    if (perCore) {
      perCore.addEventListener("change", () => {
        entry.perCore = perCore.checked;
        known = null;
        showRange(entry);
      });
    }
  }

  function wireDrag(entry) {
    const canvas = entry.canvas;
    const x = (event) => event.clientX - canvas.getBoundingClientRect().left;
    canvas.addEventListener("pointerdown", (event) => {
      const area = entry.chart.chartArea;
      const at = x(event);
      if (event.button !== 0 || !area || at < area.left || at > area.right || entry.times.length < 2) return;
      entry.drag = { from: at, to: at };
      canvas.setPointerCapture(event.pointerId);
    });
    canvas.addEventListener("pointermove", (event) => {
      if (!entry.drag) return;
      const area = entry.chart.chartArea;
      entry.drag.to = Math.min(area.right, Math.max(area.left, x(event)));
      entry.chart.draw();
    });
    const finish = (event) => {
      const drag = entry.drag;
      entry.drag = null;
      if (!drag) return;
      entry.chart.draw();
      if (event.type !== "pointerup" || Math.abs(drag.to - drag.from) < 8) return;
      const scale = entry.chart.scales.x;
      const last = entry.times.length - 1;
      const at = (px) => Math.min(last, Math.max(0, Math.round(scale.getValueForPixel(px))));
      const first = at(Math.min(drag.from, drag.to));
      const end = at(Math.max(drag.from, drag.to));
      const step = entry.times.length > 1 ? (entry.times[last] - entry.times[0]) / last : 1000;
      const range = [entry.times[first], entry.times[end] + step];
      if (!(range[1] > range[0])) return;
      entry.zoom = range;
      showRange(entry);
    };
    canvas.addEventListener("pointerup", finish);
    canvas.addEventListener("pointercancel", finish);
  }

  // Made last: a chart that starts on /api/history runs everything defined above.
  makeChart("cpu-chart", {
    stacked: true,
    pushed: [
      ["user", "--cpu-user", "origin"],
      ["system", "--cpu-system", "-1"],
      ["iowait", "--cpu-iowait", "-1"],
    ],
  });
  makeChart("network-chart", { pushed: [["rx", "--net-rx", false], ["tx", "--net-tx", false]] });
  makeChart("disk-io-chart", { pushed: [["read", "--disk-read", false], ["write", "--disk-write", false]] });
  makeChart("memory-chart", {});
  makeChart("load-chart", {});
  makeChart("disk-chart", {});
  makeChart("temperature-chart", {});

  // --- connection ---------------------------------------------------------------------------

  const BADGES = {
    connecting: ["text-bg-secondary", "connecting…"],
    syncing: ["text-bg-info", "syncing…"],
    live: ["text-bg-success", "live"],
    disconnected: ["text-bg-danger", "disconnected"],
  };

  live.on("connection", (state, detail) => {
    const [cls, label] = BADGES[state];
    const badge = $("conn-badge");
    badge.className = "badge rounded-pill " + cls;
    badge.textContent = detail ? detail + "…" : label;
    $("stale-banner").hidden = state !== "disconnected";
    if (state === "disconnected") $("stale-since").textContent = $("updated-at").textContent;
  });

  // For diagnostics (and the browser tests): what the page holds, read-only.
  window.dashboard = {
    get seq() {
      return live.seq;
    },
    get connection() {
      return live.connection;
    },
    get stats() {
      return live.stats;
    },
    state: () => live.state(),
    /** The live samples of the CPU and network charts (whatever range they show). */
    charts() {
      const out = {};
      for (const entry of Object.values(charts)) {
        if (!entry.pushed) continue;
        out[entry.name] = { labels: entry.buffer.labels.slice() };
        for (const [key] of entry.pushed) out[entry.name][key] = (entry.buffer.columns[key] || []).slice();
      }
      return out;
    },
    /** What a chart draws now: range, zoom, the x times (ms), each series' points, marks. */
    chart(name) {
      const entry = charts[name];
      if (!entry) return null;
      const data = {};
      entry.chart.data.datasets.forEach((ds, i) => {
        data[entry.series[i] || ds.label] = ds.data.slice();
      });
      return {
        range: entry.range,
        zoom: entry.zoom ? entry.zoom.slice() : null,
        perCore: entry.perCore,
        live: showsPushed(entry),
        times: entry.times.slice(),
        step: entry.step || null,
        labels: entry.chart.data.labels.slice(),
        data,
        marks: entry.marks.map((m) => ({ index: m.index, name: m.name, time: m.time })),
        query: entry.lastQuery || null,
        status: entry.tools ? entry.tools.querySelector("[data-chart-status]").textContent : "",
      };
    },
  };
})();
