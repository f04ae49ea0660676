// The lab's demo webapp, with no npm dependencies (Debian's Node.js runs it as is).
//   GET /          → {hello, ip, host, tag, sessionViews, id} and header x-backend-ip
//   POST /delay    → {"delay": ms} slows every later GET by that much
// Sessions live in memory, keyed by the NODESESSID cookie. On SIGTERM the server stops
// accepting, finishes in-flight requests, then exits. LISTEN_DELAY_MS (0–600000) waits that long
// before listening: an app with a slow start, for the tests.
"use strict";
const http = require("node:http");
const os = require("node:os");
const crypto = require("node:crypto");

const PORT = Number(process.env.PORT || 3000);
const NETWORK = process.env.WEBAPP_NETWORK || "heig";
const dns = require("node:dns");
// The container's name, as Docker's embedded DNS reports it for our address (compose_webapp_3).
let TAG = process.env.TAG || os.hostname();
const SESSION_TTL_MS = 30 * 60 * 1000;
const MAX_SESSIONS = 100000;
const sessions = new Map(); // id -> {views, seen}
let delayMs = 0;
let stopping = false; // set on SIGTERM

/** The container's own address on the watched network: the first non-internal IPv4. */
function ownIp() {
  const ifaces = os.networkInterfaces();
  for (const name of Object.keys(ifaces).sort()) {
    for (const a of ifaces[name] || []) if (a.family === "IPv4" && !a.internal) return a.address;
  }
  return "127.0.0.1";
}
const IP = process.env.BACKEND_IP || ownIp();
if (!process.env.TAG) {
  // PTR of our address from Docker's embedded DNS: "<container name>.<network>". A swarm task's
  // name has dots of its own (heig_webapp.3.<task id>): only the network's suffix goes.
  const arpa = `${IP.split(".").reverse().join(".")}.in-addr.arpa`;
  const lookUp = (triesLeft) =>
    dns.resolvePtr(arpa, (err, names) => {
      const suffix = `.${NETWORK}`;
      if (!err && names && names[0])
        TAG = names[0].endsWith(suffix) ? names[0].slice(0, -suffix.length) : names[0].split(".")[0];
      else if (triesLeft > 0) setTimeout(() => lookUp(triesLeft - 1), 500).unref();
    });
  lookUp(10);
}

function cookies(req) {
  const out = {};
  for (const part of (req.headers.cookie || "").split(";")) {
    const i = part.indexOf("=");
    if (i > 0) out[part.slice(0, i).trim()] = decodeURIComponent(part.slice(i + 1).trim());
  }
  return out;
}

function session(req, res) {
  let id = cookies(req).NODESESSID;
  let s = id && sessions.get(id);
  if (!s) {
    if (sessions.size >= MAX_SESSIONS) sessions.delete(sessions.keys().next().value);
    id = crypto.randomBytes(16).toString("hex");
    s = { views: 0, seen: 0 };
    sessions.set(id, s);
    res.setHeader("set-cookie", `NODESESSID=${id}; Path=/; HttpOnly`);
  }
  s.views += 1;
  s.seen = Date.now();
  return s;
}

setInterval(() => {
  const cutoff = Date.now() - SESSION_TTL_MS;
  for (const [id, s] of sessions) if (s.seen < cutoff) sessions.delete(id);
}, 60000).unref();

function send(res, code, body) {
  // While stopping, ask HAProxy not to reuse this connection.
  if (stopping) res.setHeader("connection", "close");
  res.writeHead(code, { "content-type": "application/json", "x-backend-ip": IP });
  res.end(JSON.stringify(body));
}

const server = http.createServer((req, res) => {
  const path = (req.url || "/").split("?")[0];
  if (req.method === "HEAD" && path === "/") {
    // Health checks: no session, no delay.
    res.writeHead(200, { "content-type": "application/json", "x-backend-ip": IP });
    return res.end();
  }
  if (req.method === "GET" && path === "/") {
    const s = session(req, res);
    const body = { hello: "world!", ip: IP, host: os.hostname(), tag: TAG, sessionViews: s.views, id: process.pid };
    if (delayMs > 0) return setTimeout(() => send(res, 200, body), delayMs);
    return send(res, 200, body);
  }
  if (req.method === "POST" && path === "/delay") {
    let raw = "";
    req.on("data", (c) => {
      raw += c;
      if (raw.length > 10000) req.destroy();
    });
    req.on("end", () => {
      let delay;
      try {
        delay = JSON.parse(raw || "{}").delay;
      } catch {
        delay = undefined;
      }
      if (!Number.isInteger(delay) || delay < 0 || delay > 600000) {
        return send(res, 400, { error: 'body must be JSON {"delay": <ms from 0 to 600000>}' });
      }
      delayMs = delay;
      return send(res, 200, { message: `New timeout of ${delay}ms configured.`, delay });
    });
    return;
  }
  send(res, 404, { error: "not found" });
});

server.keepAliveTimeout = 65000; // longer than HAProxy's, so HAProxy closes idle connections first
// atMs: when the port started accepting, in epoch milliseconds with sub-millisecond precision
// (the benchmark measures from it how long the sidecar takes to route a new container).
const LISTEN_DELAY_MS = Math.min(Math.max(Number(process.env.LISTEN_DELAY_MS) || 0, 0), 600000);
const listen = () =>
  server.listen(PORT, () =>
    console.log(
      JSON.stringify({
        msg: "webapp listening",
        atMs: performance.timeOrigin + performance.now(),
        port: PORT,
        ip: IP,
        network: NETWORK,
      }),
    ),
  );
if (LISTEN_DELAY_MS > 0) setTimeout(() => stopping || listen(), LISTEN_DELAY_MS);
else listen();

// On SIGTERM keep serving a moment: the sidecar takes us out of rotation on Docker's kill
// event, and requests already routed here must still be answered. Then stop accepting, finish
// in-flight requests, and exit.
const SHUTDOWN_DELAY_MS = Number(process.env.SHUTDOWN_DELAY_MS || 1500);
// In-flight requests get this long to finish before the process exits anyway (a container with a
// long heig.lb.drain wants more; Docker's stop timeout still bounds it).
const SHUTDOWN_GRACE_MS = Number(process.env.SHUTDOWN_GRACE_MS || 5000);
function shutdown(signal) {
  if (stopping) return;
  stopping = true;
  console.log(JSON.stringify({ msg: "webapp stopping", signal, delayMs: SHUTDOWN_DELAY_MS }));
  setTimeout(() => {
    server.close(() => process.exit(0));
    if (server.closeIdleConnections) server.closeIdleConnections();
    setTimeout(() => process.exit(0), SHUTDOWN_GRACE_MS).unref();
  }, SHUTDOWN_DELAY_MS).unref();
}
process.on("SIGTERM", () => shutdown("SIGTERM"));
process.on("SIGINT", () => shutdown("SIGINT"));
