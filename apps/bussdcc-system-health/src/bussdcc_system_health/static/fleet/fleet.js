/* The fleet page on the framework's live client: the server renders the table and each
 * changed row (with the new order when it changed); this only puts rows in place and shows
 * the connection state. */
(function () {
  "use strict";
  const live = bussdcc.live({ initial: bussdcc.readJSON("initial-snapshot") });
  const rows = document.getElementById("fleet-rows");
  const badge = document.getElementById("conn-badge");
  const template = document.createElement("template");

  live.on("views", (views) => {
    const update = views["fleet-row"];
    if (!update) return;
    template.innerHTML = update.html.trim();
    const fresh = template.content.firstElementChild;
    const byNode = new Map(
      Array.from(rows.querySelectorAll("tr[data-node]")).map((tr) => [tr.dataset.node, tr])
    );
    const current = byNode.get(update.node);
    if (current) current.replaceWith(fresh);
    else {
      const empty = rows.querySelector("tr:not([data-node])"); // "no node heard yet"
      if (empty) empty.remove();
      rows.appendChild(fresh);
    }
    byNode.set(update.node, fresh);
    if (update.order) {
      // Worst first: move the rows into the server's order (no markup made here).
      for (const node of update.order) {
        const tr = byNode.get(node);
        if (tr) rows.appendChild(tr);
      }
    }
  });

  live.on("connection", (state) => {
    badge.textContent = state;
    badge.className = "badge rounded-pill text-bg-" + (state === "live" ? "success" : state === "disconnected" ? "danger" : "secondary");
  });
})();
