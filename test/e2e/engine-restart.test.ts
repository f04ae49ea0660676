/**
 * A dockerd restart, on an engine of the test's own (a nested node started with the flags
 * `make up` gives the user's engine: --live-restore --userland-proxy=false): traffic keeps
 * flowing while dockerd is down, and once it is back the sidecar converges, with no stale server.
 * The user's engine is never touched.
 */
import { buildNodeImage, NestedEngine } from "./engines";
import { eventually, NETWORK, PROJECT, sh, spread, statsServers, TEST_LABEL } from "./helpers";

jest.setTimeout(300_000);
const NODES = "hs-e2e-nodes";
const node = new NestedEngine("hs-e2e-engine", NODES);
const images = ["ha-sidecar/ha:latest", "ha-sidecar/sidecar:latest", "ha-sidecar/webapp:latest"];
const inNode = (cmd: string, allowFail = false): string => sh(cmd, { env: node.env(), allowFail });
const composeInNode = (args: string): string => inNode(`docker-compose -f compose/docker-compose.yml ${args}`);
const upServers = async (): Promise<string[]> =>
  Object.entries(await statsServers("webapp", node.ip))
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
  await eventually(
    async () => expect(Object.keys(await statsServers("webapp", node.ip))).not.toContain("hs-e2e-victim"),
    60_000,
  );
  console.log(`dockerd restart: stale server gone ${Date.now() - restartedAt} ms after dockerd was started again`);
  // Just after the restart: a change is picked up too.
  composeInNode("up -d --scale webapp=3");
  await eventually(async () => expect(await upServers()).toHaveLength(3), 60_000);
  const logs = composeInNode("logs --no-color sidecar");
  expect(logs).toContain("docker event stream lost, reconnecting");
  expect((await spread(6, node.ip)).failures).toEqual([]);
});
