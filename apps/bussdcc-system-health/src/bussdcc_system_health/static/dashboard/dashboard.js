/* The live dashboard, on the framework's live client (/bussdcc/static/live.js).
 *
 * The server renders every card, first for the page and then again whenever a card's state
 * changes; live.js swaps those views into the elements marked data-live-view. What is left
 * here is what only a browser can do: draw the charts from the raw numbers the server sends
 * (labels and axis unit included), and show the connection state (badge, stale banner).
 * No markup, formatter or threshold lives in this file.
 */
(function () {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const live = bussdcc.live({ initial: bussdcc.readJSON("initial-snapshot") });

  // --- charts -------------------------------------------------------------------------------

  const css = getComputedStyle(document.documentElement);
  const color = (name) => css.getPropertyValue(name).trim();
  const charts = {}; // view name -> {chart, limit, keys}

  function series(label, varName, fill) {
    return { label, data: [], borderColor: color(varName), backgroundColor: color(varName) + "99", fill };
  }

  function makeChart(view, keys, datasets, yOptions) {
    const canvas = document.querySelector('canvas[data-chart="' + view + '"]');
    if (typeof Chart === "undefined" || !canvas) return;
    const chart = new Chart(canvas, {
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
    charts[view] = { chart, keys, limit: Number(canvas.dataset.chartLimit) || 300 };
  }

  makeChart(
    "cpu-chart",
    ["user", "system", "iowait"],
    [series("user", "--cpu-user", "origin"), series("system", "--cpu-system", "-1"), series("iowait", "--cpu-iowait", "-1")],
    { stacked: true, min: 0, max: 100, ticks: { callback: (v) => v + " %" } },
  );
  // Byte-rate charts: the server picks the unit for the whole window; the axis only divides by it.
  function makeRateChart(view, keys, datasets) {
    const axis = { scale: 1, unit: "" };
    makeChart(view, keys, datasets, {
      min: 0,
      ticks: { callback: (v) => +(v / axis.scale).toFixed(1) + " " + axis.unit, maxTicksLimit: 5 },
    });
    if (charts[view]) charts[view].axis = axis;
  }
  makeRateChart("network-chart", ["rx", "tx"], [series("rx", "--net-rx", false), series("tx", "--net-tx", false)]);
  makeRateChart("disk-io-chart", ["read", "write"], [series("read", "--disk-read", false), series("write", "--disk-write", false)]);

  // A snapshot's chart view is the whole history; a record's is its newest sample.
  function feedChart(name, view, isSnapshot) {
    const entry = charts[name];
    if (!entry || !view.labels) return;
    const { chart, keys, limit } = entry;
    const times = view.t || [];
    // A sample the chart already has (its snapshot was newer than the record) is skipped.
    const fresh = times.map((t, i) => i).filter((i) => isSnapshot || !(entry.last >= times[i]));
    if (!fresh.length && !isSnapshot) return;
    const pick = (list) => fresh.map((i) => (list || [])[i]);
    const trim = (list, extra) => (isSnapshot ? extra : list.concat(extra)).slice(-limit);
    chart.data.labels = trim(chart.data.labels, pick(view.labels));
    keys.forEach((key, i) => {
      chart.data.datasets[i].data = trim(chart.data.datasets[i].data, pick((view.columns || {})[key]));
    });
    entry.last = fresh.length ? times[fresh[fresh.length - 1]] : undefined;
    if (entry.axis && view.unit) Object.assign(entry.axis, { scale: view.scale, unit: view.unit });
    chart.update("none");
  }

  live.on("views", (views, isSnapshot) => {
    for (const name of Object.keys(charts)) if (views[name]) feedChart(name, views[name], isSnapshot);
    const host = $("nav-host").textContent.trim();
    document.title = "System Health" + (host ? " · " + host : "");
  });

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
    charts() {
      const out = {};
      for (const [name, { chart, keys }] of Object.entries(charts)) {
        out[name] = { labels: chart.data.labels.slice() };
        keys.forEach((key, i) => {
          out[name][key] = chart.data.datasets[i].data.slice();
        });
      }
      return out;
    },
  };
})();
