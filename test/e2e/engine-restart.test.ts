/**
 * A dockerd restart, on an engine of the test's own (a nested node started with the flags
 * `make up` gives the user's engine: --live-restore --userland-proxy=false): traffic keeps
 * flowing while dockerd is down, and once it is back the sidecar converges, with no stale server.
 * The user's engine is never touched.
 */
import { buildNodeImage, NestedEngine } from "./engines";
import { eventually, NETWORK, PROJECT, sh, spread, TEST_LABEL } from "./helpers";

jest.setTimeout(300_000);
const NODES = "hs-e2e-nodes";
const node = new NestedEngine("hs-e2e-engine", NODES);
const images = [
  "ha-sidecar/ha:latest",
  "ha-sidecar/docker-proxy:latest",
  "ha-sidecar/sidecar:latest",
  "ha-sidecar/webapp:latest",
];
const inNode = (cmd: string, allowFail = false): string => sh(cmd, { env: node.env(), allowFail });
const composeInNode = (args: string): string => inNode(`docker-compose -f compose/docker-compose.yml ${args}`);
/** webapp servers by status, from HAProxy's CLI (the stats page is published on the node's loopback only). */
const servers = (): Record<string, string> => {
  const csv = inNode(`docker exec ${PROJECT}_sidecar_1 node /app/sidecar.js cli "show stat"`).trim().split("\n");
  const header = csv[0]!.replace(/^# /, "").split(",");
  const [px, sv, st] = ["pxname", "svname", "status"].map((h) => header.indexOf(h));
  const rows = csv.slice(1).map((l) => l.split(","));
  return Object.fromEntries(
    rows.filter((c) => c[px!] === "webapp" && !["FRONTEND", "BACKEND"].includes(c[sv!]!)).map((c) => [c[sv!], c[st!]]),
  );
};
const upServers = async (): Promise<string[]> =>
  Object.entries(servers())
    .filter(([, s]) => s === "UP")
    .map(([n]) => n)
    .sort();

beforeAll(async () => {
  node.remove();
  sh(`docker network rm ${NODES}`, { allowFail: true });
  buildNodeImage();
  sh(`docker network create --label ${TEST_LABEL} ${NODES}`);
  await node.start(["--live-restore", "--userland-proxy=false"]);
  node.load(images);
  composeInNode("up -d --scale webapp=2");
  await eventually(
    async () => expect(await upServers()).toEqual([`${PROJECT}_webapp_1`, `${PROJECT}_webapp_2`]),
    90_000,
  );
});

afterAll(() => {
  node.remove();
  sh(`docker network rm ${NODES}`, { allowFail: true });
});

it("converges after dockerd restarts, with no stale server, and traffic never stops", async () => {
  inNode(
    `docker run -d --name hs-e2e-victim --network ${NETWORK} --label heig.lb.enable=true ha-sidecar/webapp:latest`,
  );
  await eventually(async () => expect(await upServers()).toContain("hs-e2e-victim"), 60_000);
  const victimPid = inNode("docker inspect -f '{{.State.Pid}}' hs-e2e-victim").trim();
  await node.stopDaemon();
  // While dockerd is down: a backend dies, and the published port still answers (live-restore).
  sh(`docker exec ${node.name} kill -9 ${victimPid}`);
  expect((await spread(3, node.ip)).failures).toEqual([]);
  const restartedAt = Date.now();
  await node.startDaemon();
  await eventually(() => expect(Object.keys(servers())).not.toContain("hs-e2e-victim"), 60_000);
  console.log(`dockerd restart: stale server gone ${Date.now() - restartedAt} ms after dockerd was started again`);
  // Just after the restart: a change is picked up too.
  composeInNode("up -d --scale webapp=3");
  await eventually(async () => expect(await upServers()).toHaveLength(3), 60_000);
  const logs = composeInNode("logs --no-color sidecar");
  expect(logs).toContain("docker event stream lost, reconnecting");
  expect((await spread(6, node.ip)).failures).toEqual([]);
});
