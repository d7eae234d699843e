/* bussdcc live client: the browser half of WebInterface's live protocol.
 *
 * Served by every WebInterface at /bussdcc/static/live.js; needs the Socket.IO client served
 * beside it (/bussdcc/static/socket.io.min.js), loaded first. No inline script is needed:
 * a page hands over its first snapshot as <script type="application/json"> data.
 *
 *   const live = bussdcc.live({ initial: bussdcc.readJSON("initial-snapshot") });
 *   live.on("record", (rec) => ...);      // each event record applied, in seq order
 *   live.on("views", (views, isSnapshot) => ...);
 *   live.on("connection", (state, detail) => ...);
 *
 * What it does (protocol: bussdcc_framework.interface.web):
 * - A "snapshot" {seq, state, views?} replaces the state mirror; records arriving before the
 *   first snapshot are buffered and applied after it.
 * - A record applies only when its `prev` is the seq held; any other `prev` is a gap (a
 *   dropped event, a restart) and the client asks for a fresh snapshot ("resync").
 * - A record's `state` patches the mirror (watched paths); its `views` (and a snapshot's)
 *   go into the page: a string view replaces the content of every element with
 *   data-live-view="<name>"; every view is also handed to "views" listeners.
 * - Connection state: "connecting", "syncing", "live", "disconnected". It is written to the
 *   `data-live-connection` attribute of `connectionTarget` (default <body>), so CSS can show
 *   a disconnected page as stale, and given to "connection" listeners. Socket.IO reconnects
 *   by itself; the server sends a fresh snapshot on connect.
 *
 * Options: initial (a snapshot object), url (default: the page's origin), socket (options
 * for io(), default websocket then polling), root (where views are looked up, default
 * document), connectionTarget (default document.body).
 */
(function (global) {
  "use strict";

  function readJSON(id) {
    const el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

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

  function live(options) {
    const opts = options || {};
    const root = opts.root || document;
    const target = opts.connectionTarget || document.body;
    const initial = opts.initial || null;
    const listeners = { snapshot: [], record: [], views: [], connection: [] };
    const shown = new Map(); // view name -> the string last put into the page
    const stats = { snapshots: 0, events: 0, gaps: 0, resyncs: 0 };
    let state = (initial && initial.state) || {};
    let seq = initial ? initial.seq : 0;
    let synced = false;
    let buffer = [];
    let connection = null;
    let detail = "";

    function fire(name, ...args) {
      for (const fn of listeners[name]) {
        try {
          fn(...args);
        } catch (err) {
          console.error("bussdcc live: a " + name + " listener failed", err);
        }
      }
    }

    function setConnection(name, text) {
      connection = name;
      detail = text || "";
      if (target) target.setAttribute("data-live-connection", name);
      fire("connection", name, detail);
    }

    function applyViews(views, isSnapshot) {
      if (!views) return;
      for (const [name, view] of Object.entries(views)) {
        if (typeof view !== "string" || shown.get(name) === view) continue;
        shown.set(name, view);
        const selector = '[data-live-view="' + CSS.escape(name) + '"]';
        for (const el of root.querySelectorAll(selector)) el.innerHTML = view;
      }
      fire("views", views, isSnapshot);
    }

    function apply(rec) {
      if (rec.state) {
        for (const [path, value] of Object.entries(rec.state)) setAt(state, path, value);
      }
      seq = rec.seq;
      stats.events += 1;
      applyViews(rec.views, false);
      fire("record", rec);
    }

    function onRecord(rec) {
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
    }

    function onSnapshot(snap) {
      state = snap.state || {};
      seq = snap.seq;
      synced = true;
      stats.snapshots += 1;
      const pending = buffer.sort((a, b) => a.seq - b.seq);
      buffer = [];
      applyViews(snap.views, true);
      fire("snapshot", snap);
      setConnection("live");
      for (const rec of pending) onRecord(rec);
    }

    function resync() {
      synced = false;
      buffer = [];
      stats.resyncs += 1;
      socket.emit("resync");
    }

    const socketOptions = Object.assign({ transports: ["websocket", "polling"] }, opts.socket || {});
    const socket = opts.url ? global.io(opts.url, socketOptions) : global.io(socketOptions);
    setConnection("connecting");
    socket.on("connect", () => setConnection("syncing"));
    socket.on("snapshot", onSnapshot);
    socket.on("events", (records) => records.forEach(onRecord));
    socket.on("disconnect", (reason) => {
      synced = false;
      buffer = [];
      setConnection("disconnected");
      // Socket.IO reconnects by itself, except after the server let the client go.
      if (reason === "io server disconnect") setTimeout(() => socket.connect(), 1000);
    });
    socket.on("connect_error", () => {
      if (connection !== "disconnected") setConnection("disconnected");
    });
    socket.io.on("reconnect_attempt", (attempt) => setConnection("disconnected", "reconnecting (" + attempt + ")"));

    const client = {
      /** Register fn for "snapshot", "record", "views" or "connection"; "connection"
       * listeners are called at once with the current state. Returns the client. */
      on(name, fn) {
        if (!listeners[name]) throw new Error("bussdcc live: unknown event " + JSON.stringify(name));
        listeners[name].push(fn);
        if (name === "connection") fn(connection, detail);
        return client;
      },
      get seq() {
        return seq;
      },
      get connection() {
        return connection;
      },
      get stats() {
        return Object.assign({}, stats);
      },
      /** A copy of the mirrored state (the last snapshot plus watched changes). */
      state() {
        return JSON.parse(JSON.stringify(state));
      },
      /** The mirrored value at a dot path (undefined where absent). */
      get(path) {
        return at(state, path);
      },
      resync,
      close() {
        socket.close();
      },
      socket,
    };
    return client;
  }

  global.bussdcc = Object.assign(global.bussdcc || {}, { live, readJSON });
})(window);
