/**
 * The operator's page: the cross-reference table from /status (one HAProxy column per replica,
 * headed by its state: in-sync, stale or diverged) and the last hour of routing changes (the SVG
 * timeline the server draws, /timeline.svg, and the latest /changes records), refreshed every
 * 2 s. Hovering a mark shows its record; hovering a replica's heading, its config and digest.
 * Below the table: servers ramping up (slow start) and draining, with the seconds left, and the
 * containers in maintenance (who asked, since when).
 */
export const STATUS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>ha-sidecar</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; }
  h1 { font-size: 20px; margin: 0 0 4px; }
  .meta { color: #555; margin-bottom: 16px; }
  .meta span { margin-right: 18px; }
  table { border-collapse: collapse; min-width: 760px; }
  th, td { text-align: left; padding: 6px 12px; border-bottom: 1px solid #ddd; }
  th { background: #f3f3f3; }
  .ok { color: #11772d; font-weight: 600; }
  .bad { color: #b3261e; font-weight: 600; }
  .meh { color: #8a6100; }
  th small { display: block; font-weight: 600; }
  h2 { font-size: 16px; margin: 24px 0 6px; }
  #timeline svg { max-width: 100%; height: auto; border: 1px solid #ddd; }
  #timeline .mark { cursor: pointer; }
  #record { min-height: 1.4em; margin: 6px 0; font-family: monospace; color: #333; }
  #recent { font-family: monospace; font-size: 12px; color: #444; padding-left: 18px; }
  .box { margin-top: 16px; padding: 8px 12px; background: #fff4f2; border: 1px solid #f0c4bd; white-space: pre-wrap; font-family: monospace; }
</style>
</head>
<body>
<h1>ha-sidecar</h1>
<div class="meta" id="meta">loading…</div>
<table>
  <thead><tr id="head"></tr></thead>
  <tbody id="rows"></tbody>
</table>
<div id="drift"></div>
<div id="lifecycle"></div>
<div id="rejected"></div>
<h2>Routing changes, last <select id="window"><option value="5">5 minutes</option><option value="15">15 minutes</option><option value="60" selected>hour</option></select></h2>
<div id="timeline"></div>
<div id="record">hover a mark for its record</div>
<ol id="recent" reversed></ol>
<script>
const cls = (v, good) => v === null || v === undefined ? "meh" : good.includes(v) ? "ok" : "bad";
const cell = (text, c) => { const td = document.createElement("td"); td.textContent = text ?? "—"; if (c) td.className = c; return td; };
async function refresh() {
  try {
    const s = await (await fetch("/status", { cache: "no-store" })).json();
    const serf = !s.serf.configured ? "not configured" : s.serf.reachable ? "reachable" : "unreachable";
    document.getElementById("meta").innerHTML = "";
    for (const [k, v] of [["Docker events", s.eventsConnected ? "connected" : "disconnected"], ["Serf", serf],
        ["HAProxy", s.haproxyReachable ? "reachable" : "unreachable"],
        ["last reload", s.lastReload ? s.lastReload.at + " (" + s.lastReload.reason + ")" : "none"],
        ["last runtime change", s.lastRuntimeChange ? s.lastRuntimeChange.at + " (" + s.lastRuntimeChange.reason + ")" : "none"]]) {
      const span = document.createElement("span"); span.textContent = k + ": " + v; document.getElementById("meta").appendChild(span);
    }
    // One HAProxy column per replica, headed by its state against the desired one.
    const replicas = s.replicas.length ? s.replicas : [{ replica: "1", state: null }];
    const head = ["container", "address", "backend / server", "Docker", "Serf"].map((t) => {
      const th = document.createElement("th"); th.textContent = t; return th;
    });
    for (const r of replicas) {
      const th = document.createElement("th");
      th.textContent = replicas.length > 1 ? "HAProxy " + r.replica : "HAProxy";
      const state = document.createElement("small");
      state.textContent = r.state ?? "—";
      state.className = r.state === "in-sync" ? "ok" : r.state === "diverged" ? "bad" : "meh";
      th.title = [r.container, r.reason, r.configId && "config " + r.configId, r.digest && "routes " + r.digest,
        r.confirmedAt && "in sync at " + r.confirmedAt].filter(Boolean).join("\\n");
      th.appendChild(state);
      head.push(th);
    }
    document.getElementById("head").replaceChildren(...head);
    const tbody = document.getElementById("rows");
    tbody.replaceChildren(...s.backends.map((b) => {
      const tr = document.createElement("tr");
      const docker = cell(b.docker, cls(b.docker, ["routed"]));
      if (b.detail) docker.title = b.detail;
      tr.append(cell(b.container), cell(b.address), cell(b.backend ? b.backend + " / " + b.server : null),
        docker, cell(b.serf, cls(b.serf, ["alive"])));
      for (const r of replicas) {
        const status = b.replicas && r.replica in b.replicas ? b.replicas[r.replica] : b.haproxy;
        tr.append(cell(status, cls(status, ["UP"])));
      }
      return tr;
    }));
    const panic = s.serf.configured && s.serf.panic && s.serf.panic.length ? "Serf would leave too few members, routed on Docker's view: " + s.serf.panic.join(", ") + ". " : "";
    const drift = s.serf.configured && s.serf.drift && s.serf.drift.length ? s.serf.drift.map((m) => m.name + " " + m.address).join(", ") : "";
    document.getElementById("drift").textContent = panic + (drift ? "Serf members with no container (drift): " + drift : "");
    // Traffic lifecycle: servers ramping up (slow start), draining (with the time left), in maintenance.
    const life = [];
    if (s.ramping && s.ramping.length) life.push("Ramping up (slow start): " + s.ramping.map((r) => r.server + " " + r.secondsLeft + " s left").join(", "));
    if (s.draining && s.draining.length) life.push("Draining: " + s.draining.map((r) => r.server + " " + r.secondsLeft + " s left").join(", "));
    if (s.maintenance && s.maintenance.length) life.push("In maintenance: " + s.maintenance.map((m) => m.container + " (by " + m.by + " since " + m.since + ")").join(", "));
    document.getElementById("lifecycle").textContent = life.join("\\n");
    document.getElementById("lifecycle").style.whiteSpace = "pre-wrap";
    const rej = document.getElementById("rejected");
    rej.className = s.lastRejected ? "box" : "";
    rej.textContent = s.lastRejected ? "Last rejected config (" + s.lastRejected.at + "):\\n" + s.lastRejected.message : "";
    document.title = "ha-sidecar: " + s.backends.filter((b) => b.docker === "routed").length + " routed";
    const minutes = Number(document.getElementById("window").value);
    document.getElementById("timeline").innerHTML = await (await fetch("/timeline.svg?minutes=" + minutes, { cache: "no-store" })).text();
    // The latest ten, in the words of their marks' records (the same text as the hover).
    const marks = [...document.querySelectorAll("#timeline .mark")]
      .sort((a, b) => Number(b.getAttribute("data-seq")) - Number(a.getAttribute("data-seq"))).slice(0, 10);
    document.getElementById("recent").replaceChildren(...marks.map((m) => {
      const li = document.createElement("li"); li.value = Number(m.getAttribute("data-seq"));
      li.textContent = m.getAttribute("data-record").replace(/^#\\d+ /, "");
      return li;
    }));
  } catch (err) {
    document.getElementById("meta").textContent = "status unavailable: " + err;
  }
}
document.getElementById("timeline").addEventListener("mouseover", (e) => {
  const mark = e.target.closest && e.target.closest(".mark");
  if (mark) document.getElementById("record").textContent = mark.getAttribute("data-record");
});
document.getElementById("window").addEventListener("change", refresh);
refresh();
setInterval(refresh, 2000);
</script>
</body>
</html>
`;
