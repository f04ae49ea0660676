/**
 * HAProxy's runtime and master sockets, as far as the sidecar's reload path and its agreement
 * check ask (LB_RUNTIME_API=off): `show info` gives the config id of the file loaded at the last
 * `reload()` (what a SIGUSR2 does: the fake Docker's kill calls it) and a new worker pid, `show
 * servers state` that file's servers; every other command succeeds with an empty answer.
 */
import { readFileSync } from "node:fs";
import * as net from "node:net";
import { DESCRIPTION_PREFIX } from "../../sidecar/render/render";
import { parseServerLines } from "../../sidecar/render/server-lines";

export interface FakeHaproxy {
  /** Loads the config file: `show info` says its id from now on. */
  reload(): void;
  close(): Promise<void>;
}

/** Listens on `runtimeSocket` and `masterSocket`; `configFile` is what a reload loads. */
export function startFakeHaproxy(runtimeSocket: string, masterSocket: string, configFile: string): FakeHaproxy {
  let loaded = "";
  let worker = 1;
  let serverLines = "";
  const answer = (command: string): string => {
    if (command === "show info")
      return `Name: HAProxy\nVersion: 3.0.11\nPid: ${worker}\ndescription: ${DESCRIPTION_PREFIX}${loaded}\n`;
    if (command === "show servers state")
      return `1\n# be_id be_name srv_id srv_name srv_addr srv_admin_state srv_uweight srv_port\n${serverLines}`;
    if (command === "show stat") return "# pxname,svname,status\n";
    if (command === "show proc")
      return "#<PID>  <type>  <reloads>  <uptime>  <version>\n1  master  0  1s  3.0.11\n# workers\n2  worker  0  1s  3.0.11\n# programs\n";
    return "\n";
  };
  const servers = [runtimeSocket, masterSocket].map((socketPath) =>
    net
      .createServer((sock) => {
        let line = "";
        sock.on("data", (c: Buffer) => {
          line += c.toString();
          if (line.includes("\n")) sock.end(answer(line.split("\n")[0]!.trim()));
        });
        sock.on("error", () => undefined);
      })
      .listen(socketPath),
  );
  return {
    reload() {
      const text = readFileSync(configFile, "utf8");
      loaded = new RegExp(`description ${DESCRIPTION_PREFIX}(\\S+)`).exec(text)?.[1] ?? "";
      worker += 1;
      serverLines = [...parseServerLines(text).values()]
        .map((l, i) => `3 ${l.backend} ${l.id ?? i + 1} ${l.name} ${l.address} 0 ${l.weight} ${l.port}\n`)
        .join("");
    },
    close: () => Promise.all(servers.map((s) => new Promise((r) => s.close(r)))).then(() => undefined),
  };
}
