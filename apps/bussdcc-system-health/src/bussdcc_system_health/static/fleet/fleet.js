/* The fleet page on the framework's live client: the server renders the table and each
 * changed row; this only puts a changed row in place and shows the connection state. */
(function () {
  "use strict";
  const live = bussdcc.live({ initial: bussdcc.readJSON("initial-snapshot") });
  const rows = document.getElementById("fleet-rows");
  const badge = document.getElementById("conn-badge");
  const template = document.createElement("template");

  live.on("views", (views) => {
    const update = views["fleet-row"];
    if (!update || views["fleet-table"] !== undefined) return;
    template.innerHTML = update.html.trim();
    const fresh = template.content.firstElementChild;
    const current = Array.from(rows.querySelectorAll("tr[data-node]")).find(
      (tr) => tr.dataset.node === update.node
    );
    if (current) current.replaceWith(fresh);
    else live.resync(); // a node the table does not show yet: fetch the whole table
  });

  live.on("connection", (state) => {
    badge.textContent = state;
    badge.className = "badge rounded-pill text-bg-" + (state === "live" ? "success" : state === "disconnected" ? "danger" : "secondary");
  });
})();
