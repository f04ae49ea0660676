/**
 * The Docker adapter against a real dockerd: what the listing maps, which hints the event stream
 * gives for a container's life, and that the stream reconnects (and says so) when its connection
 * is cut. Containers live on a network this test creates; the engine itself is never restarted
 * (a relay between the adapter and the socket is cut instead).
 */
import { spawnSync } from "node:child_process";
import Docker from "dockerode";
import pino from "pino";
import { DockerodeSource } from "../../sidecar/docker/dockerode-source";
import type { ChangeHint } from "../../sidecar/model/types";
import type { SourceSignal } from "../../sidecar/source/backend-source";
import { TcpRelay } from "./tcp-relay";

jest.setTimeout(120_000);
const NET = "hs-it-docker";
const LABEL = "ha-sidecar.test=1";
const sh = (cmd: string): string => {
  const r = spawnSync("bash", ["-c", cmd], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
  return r.stdout.trim();
};
const cleanup = (): void => {
  spawnSync("bash", [
    "-c",
    `docker ps -aq --filter label=${LABEL} --filter name=hs-it- | xargs -r docker rm -f; docker network rm ${NET}`,
  ]);
};
async function eventually<T>(fn: () => T, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

let relay: TcpRelay;
let source: DockerodeSource;
const signals: SourceSignal[] = [];
const abort = new AbortController();
const hintsFor = (id: string): Array<[ChangeHint["kind"], string]> =>
  signals.flatMap((s) =>
    s.kind === "hint" && s.hint.id === id ? [[s.hint.kind, s.hint.cause] as [ChangeHint["kind"], string]] : [],
  );

beforeAll(async () => {
  cleanup();
  sh(`docker network create --label ${LABEL} ${NET}`);
  relay = await new TcpRelay("/var/run/docker.sock").start();
  source = new DockerodeSource(
    new Docker({ host: "127.0.0.1", port: relay.port }),
    NET,
    "heig.lb",
    pino({ level: "silent" }),
  );
  source.watch((s) => signals.push(s), abort.signal);
  await eventually(() => expect(signals.map((s) => s.kind)).toContain("connected"));
});

afterAll(async () => {
  abort.abort();
  await relay.close();
  cleanup();
});

describe("DockerodeSource against a real dockerd", () => {
  it("lists a labelled container on the watched network with its address and compose group", async () => {
    sh(
      `docker run -d --name hs-it-listed --label ${LABEL} --label heig.lb.enable=true ` +
        `--label com.docker.compose.service=shop --network ${NET} ha-sidecar/webapp:latest`,
    );
    const ip = sh(`docker inspect -f '{{(index .NetworkSettings.Networks "${NET}").IPAddress}}' hs-it-listed`);
    const listed = (await source.list()).find((s) => s.name === "hs-it-listed");
    expect(listed).toMatchObject({
      group: "shop",
      running: true,
      paused: false,
      address: ip,
      leaving: false,
      oneOff: false,
    });
    // Narrowed to the ids a hint named (what a pass after an event asks): that one, or none.
    const narrowed = await source.list(undefined, [listed!.id]);
    expect(narrowed.map((s) => s.name)).toEqual(["hs-it-listed"]);
    sh("docker rm -f hs-it-listed");
    expect(await source.list(undefined, [listed!.id])).toEqual([]);
  });

  it("turns a container's life into hints: created, started, leaving on SIGTERM (and die, stop), gone", async () => {
    const id = sh(
      `docker create --name hs-it-life --label ${LABEL} --label heig.lb.enable=true --network ${NET} ha-sidecar/webapp:latest`,
    );
    sh("docker start hs-it-life");
    // Time enough to stop on SIGTERM alone (about 3 s), on a busy machine too: a SIGKILL after the
    // timeout would be a second kill event.
    sh("docker stop -t 30 hs-it-life");
    sh("docker rm hs-it-life");
    await eventually(() => expect(hintsFor(id).map(([kind]) => kind)).toContain("gone"));
    expect(hintsFor(id)).toEqual([
      ["created", "create"],
      ["changed", "network-connect"],
      ["started", "start"],
      ["leaving", "kill"],
      ["leaving", "die"],
      ["changed", "network-disconnect"],
      ["leaving", "stop"],
      ["gone", "destroy"],
    ]);
  });

  it("says the stream was lost when its connection is cut, reconnects, and follows events again", async () => {
    const before = signals.length;
    relay.cut();
    await eventually(() => {
      const since = signals.slice(before).map((s) => s.kind);
      expect(since).toEqual(["disconnected", "connected"]);
    });
    const id = sh(`docker run -d --name hs-it-after --label ${LABEL} --network ${NET} ha-sidecar/webapp:latest`);
    await eventually(() => expect(hintsFor(id).map(([kind]) => kind)).toContain("started"));
    sh("docker rm -f hs-it-after");
  });
});
