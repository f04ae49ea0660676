/**
 * Docker Swarm, on engines of the test's own (the user's engine is never turned into a swarm
 * manager): `scripts/swarm.sh` (what `make swarm-up` runs) deploys the stack on a single-node
 * swarm in a nested engine, with HAProxy's ports on this host's 127.0.0.1. Scaling, rolling
 * updates start-first and stop-first under load, then a second node: tasks on the worker,
 * Serf across nodes, draining the worker, and the worker's engine stopping.
 */
import { buildNodeImage, NestedEngine } from "./engines";
import { eventually, get, requestLoop, sh, shAsync, upServers, useStatsCredentials } from "./helpers";

jest.setTimeout(600_000);
const NODES = "hs-e2e-swarm";
const STATE = ".run/hstest-swarm";
const swarmEnv = {
  ...process.env,
  SWARM_ENGINE: "nested",
  SWARM_NODE: "hs-e2e-swarm1",
  SWARM_NODE_NET: NODES,
  SWARM_STATE: STATE,
};
const swarm = (args: string): string => sh(`scripts/swarm.sh ${args}`, { env: swarmEnv });
const worker = new NestedEngine("hs-e2e-swarm2", NODES);
let managerHost = "";
/** `docker` against the swarm's manager. */
const onManager = (args: string, allowFail = false): string => sh(`docker -H ${managerHost} ${args}`, { allowFail });

/** The sidecar's change log since `fromMs` (its status port is not published in swarm mode). */
interface Change {
  kind: string;
  server: string | null;
  reason: string;
  confirmedAt: string | null;
  triggeredAt: string;
}
function changesSince(fromMs: number): Change[] {
  const sidecar = onManager("ps -q -f name=heig_sidecar").trim().split("\n")[0]!;
  const { records } = JSON.parse(onManager(`exec ${sidecar} node /app/sidecar.js status /changes`)) as {
    records: Change[];
  };
  return records.filter((r) => Date.parse(r.confirmedAt ?? r.triggeredAt) >= fromMs);
}

/** Tasks of the webapp service that swarm wants running: name → node. */
function runningTasks(): Map<string, string> {
  const out = onManager(
    `service ps heig_webapp --filter desired-state=running --format '{{.Name}}.{{.ID}} {{.Node}} {{.CurrentState}}' --no-trunc`,
  );
  return new Map(
    out
      .trim()
      .split("\n")
      .filter((l) => / Running /.test(l))
      .map((l) => l.split(" ") as [string, string]),
  );
}
/** HAProxy serves exactly the tasks swarm runs, under their names (`heig_webapp.3.<task id>`). */
async function servesTheTasks(n: number): Promise<void> {
  await eventually(async () => {
    const tasks = [...runningTasks().keys()].sort();
    expect(tasks).toHaveLength(n);
    expect(await upServers()).toEqual(tasks);
  }, 120_000);
}

beforeAll(() => {
  buildNodeImage();
  swarm("down");
  worker.remove();
  swarm("up 2");
  managerHost = /DOCKER_HOST=(\S+)/.exec(sh(`cat ${STATE}.env`))![1]!;
  // A swarm's stats page always has credentials: swarm.sh generated them.
  const creds = sh(`cat ${STATE}-stats.env`);
  useStatsCredentials(`${/LB_STATS_USER=(\S+)/.exec(creds)![1]}:${/LB_STATS_PASSWORD=(\S+)/.exec(creds)![1]}`);
});

afterAll(() => {
  useStatsCredentials(undefined);
  swarm("down");
  worker.remove();
  sh(`docker network rm ${NODES}`, { allowFail: true });
});

describe("a single-node swarm", () => {
  it("serves the 2 tasks of `make swarm-up N=2` under their task names, on 127.0.0.1", async () => {
    await servesTheTasks(2);
    // The stats page, published on every interface of the node, is behind the credentials.
    expect((await get(Number(process.env.STATS_PORT), "/;csv")).status).toBe(401);
    for (const name of await upServers()) expect(name).toMatch(/^heig_webapp\.\d+\.[a-z0-9]{25}$/);
  });

  it("scales to 6 (`make swarm-scale N=6`): 6 served under their task names, no reload", async () => {
    const from = Date.now();
    swarm("scale 6");
    await servesTheTasks(6);
    const records = changesSince(from);
    expect(records.filter((r) => r.kind === "server-added")).toHaveLength(4);
    expect(records.filter((r) => r.kind === "reload")).toEqual([]);
  });

  // The three ways users roll an update, under load. The first also makes the new tasks slow to
  // start (a CPU limit: what a busy host does to them): Swarm counts a task running once its
  // container runs, so without the stack's health check it shut every old task down before one
  // new app listened, and the backend was empty (503s). The health check makes it wait; the
  // sidecar never drains the last leaving servers of a backend while they run.
  it.each([
    {
      form: "start-first, new tasks slow to start",
      args: "--update-order start-first --update-parallelism 1 --limit-cpu 0.2",
    },
    {
      form: "Swarm's defaults (stop-first, parallelism 1)",
      args: "--update-order stop-first --update-parallelism 1 --limit-cpu 0",
    },
    { form: "stop-first, parallelism 2", args: "--update-order stop-first --update-parallelism 2" },
  ])("rolls an update ($form) under load with no failed request", async ({ args }) => {
    swarm("scale 3");
    await servesTheTasks(3);
    const before = [...runningTasks().keys()];
    const load = requestLoop();
    // Asynchronously: the update takes seconds, and the request loop runs in this process.
    await shAsync(
      `docker -H ${managerHost} service update --detach=false --quiet --force ${args} heig_webapp >/dev/null`,
    );
    await servesTheTasks(3);
    const { sent, failures } = await load.stop();
    expect(failures).toEqual([]);
    expect(sent).toBeGreaterThan(100);
    // Every task was replaced.
    for (const name of runningTasks().keys()) expect(before).not.toContain(name);
  });

  it("takes a crashed task (its container SIGKILLed) out on the container's event, with no failed request", async () => {
    await servesTheTasks(3);
    const [task] = [...runningTasks().keys()].sort();
    const container = onManager(`ps -q -f name=${task}`).trim();
    const from = Date.now();
    const load = requestLoop();
    await new Promise((r) => setTimeout(r, 300));
    await shAsync(`docker -H ${managerHost} kill ${container} >/dev/null`);
    await eventually(async () => expect(await upServers()).not.toContain(task), 30_000);
    const { sent, failures } = await load.stop();
    expect(failures).toEqual([]);
    expect(sent).toBeGreaterThan(10);
    // Drained on the container's own event, before swarm's task list said anything.
    const drained = changesSince(from).find((r) => r.kind === "server-drained" && r.server === task);
    expect(drained?.reason).toMatch(/^swarm event (kill|die)/);
    // Swarm replaces it, and the replacement is served.
    await servesTheTasks(3);
  });

  it("scales to 1", async () => {
    swarm("scale 1");
    await servesTheTasks(1);
  });
});

describe("two nodes", () => {
  it("routes the tasks placed on a worker, over the overlay", async () => {
    await worker.start();
    worker.load(["ha-sidecar/webapp:latest"]);
    const token = onManager("swarm join-token -q worker").trim();
    const managerIp = /tcp:\/\/([^:]+):/.exec(managerHost)![1]!;
    worker.docker(`swarm join --token ${token} ${managerIp}:2377`);
    swarm("scale 4");
    await servesTheTasks(4);
    const onWorker = [...runningTasks()].filter(([, node]) => node === "hs-e2e-swarm2").map(([name]) => name);
    expect(onWorker.length).toBeGreaterThanOrEqual(1);
    for (const name of onWorker) expect(await upServers()).toContain(name);
  });

  it("keeps Serf as the cross-reference across nodes: a frozen agent on the worker takes its task out, thawed it is back", async () => {
    const [task] = [...runningTasks()].filter(([, node]) => node === "hs-e2e-swarm2").map(([name]) => name);
    const pids = worker
      .docker(`top ${task} -eo pid,comm`)
      .split("\n")
      .filter((l) => / serf$/.test(l.trim()))
      .map((l) => l.trim().split(/\s+/)[0]);
    expect(pids.length).toBe(1);
    sh(`docker exec ${worker.name} kill -STOP ${pids[0]}`);
    try {
      await eventually(async () => expect(await upServers()).not.toContain(task), 90_000);
      expect(await upServers()).toHaveLength(3);
    } finally {
      sh(`docker exec ${worker.name} kill -CONT ${pids[0]}`);
    }
    // Back as soon as a peer reaches it again (reconnect_interval 1 s; Serf's default, 30 s with
    // odds failed/alive, made this anything from 1 s to a minute).
    const thawedAt = Date.now();
    await eventually(async () => expect(await upServers()).toContain(task), 20_000);
    console.log(`serf agent on the worker thawed: its task back in rotation ${Date.now() - thawedAt} ms later`);
  });

  it("drains the worker under load with no failed request: its tasks move to the manager", async () => {
    const load = requestLoop();
    await shAsync(`docker -H ${managerHost} node update --availability drain hs-e2e-swarm2 >/dev/null`);
    await eventually(
      () => expect([...runningTasks().values()].every((node) => node !== "hs-e2e-swarm2")).toBe(true),
      120_000,
    );
    await servesTheTasks(4);
    const { sent, failures } = await load.stop();
    expect(failures).toEqual([]);
    expect(sent).toBeGreaterThan(100);
  });

  it("takes the tasks of a worker whose engine stops out of rotation", async () => {
    onManager("node update --availability active hs-e2e-swarm2 >/dev/null");
    onManager("service update --detach=false --quiet --force heig_webapp >/dev/null");
    await servesTheTasks(4);
    const onWorker = [...runningTasks()].filter(([, node]) => node === "hs-e2e-swarm2").map(([name]) => name);
    expect(onWorker.length).toBeGreaterThanOrEqual(1);
    const stoppedAt = Date.now();
    await worker.stopDaemon();
    await eventually(async () => {
      const up = await upServers();
      for (const name of onWorker) expect(up).not.toContain(name);
    }, 60_000);
    console.log(
      `worker engine stopped: its ${onWorker.length} task(s) out of rotation ${Date.now() - stoppedAt} ms later`,
    );
    // Swarm replaces them on the manager, and they are served.
    await servesTheTasks(4);
  });
});
