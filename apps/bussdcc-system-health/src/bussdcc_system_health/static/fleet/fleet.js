/* The fleet page on the framework's live client: the server renders the table (the
 * "fleet-table" view of each snapshot) and every changed row; "fleet" messages bring the
 * rows that changed (their markup only when what they show changed) and the new order when
 * it changed. This only puts rows in place and shows the connection state. */
(function () {
  "use strict";
  const live = bussdcc.live({ initial: bussdcc.readJSON("initial-snapshot") });
  const rows = document.getElementById("fleet-rows");
  const badge = document.getElementById("conn-badge");
  const template = document.createElement("template");

  function byNode() {
    return new Map(
      Array.from(rows.querySelectorAll("tr[data-node]")).map((tr) => [tr.dataset.node, tr])
    );
  }

  live.socket.on("fleet", (update) => {
    const current = byNode();
    for (const row of update.rows) {
      if (!row.html) continue; // its figures did not change
      template.innerHTML = row.html.trim();
      const fresh = template.content.firstElementChild;
      const old = current.get(row.node);
      if (old) old.replaceWith(fresh);
      else {
        const empty = rows.querySelector("tr:not([data-node])"); // "no node heard yet"
        if (empty) empty.remove();
        rows.appendChild(fresh);
      }
      current.set(row.node, fresh);
    }
    if (update.order) {
      // Worst first: move the rows into the server's order (no markup made here).
      for (const node of update.order) {
        const tr = current.get(node);
        if (tr) rows.appendChild(tr);
      }
    }
  });

  live.on("connection", (state) => {
    badge.textContent = state;
    badge.className = "badge rounded-pill text-bg-" + (state === "live" ? "success" : state === "disconnected" ? "danger" : "secondary");
  });
})();
