/**
 * Docker engines of the tests' own, each in a container (a "node"): what a test restarts, or
 * turns into a swarm, is never the user's engine. Verified recipe: not privileged (this machine
 * lacks CAP_SYS_RESOURCE, so runc refuses --privileged) but every other capability, no seccomp
 * or AppArmor profile, the host's cgroups, its own cgroup parent, /var/lib/docker on a tmpfs.
 * The node's dockerd listens on TCP (no TLS: the network is the test's own) and is driven from
 * here with DOCKER_HOST.
 */
import { readdirSync, rmdirSync, statSync } from "node:fs";
import * as path from "node:path";
import { eventually, sh, TEST_LABEL } from "./helpers";

export const NODE_IMAGE = "ha-sidecar/node:latest";

/** Builds the node image (cached by Docker after the first time). */
export function buildNodeImage(): void {
  sh(`docker build -q -t ${NODE_IMAGE} compose/node >/dev/null`);
}

export class NestedEngine {
  ip = "";

  constructor(
    readonly name: string,
    readonly network: string,
  ) {}

  get host(): string {
    return `tcp://${this.ip}:2375`;
  }

  /** The environment that points docker and docker-compose at this engine. */
  env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return { ...process.env, DOCKER_HOST: this.host, ...extra };
  }

  /** Starts the node with `dockerdArgs` and waits until its engine answers. */
  async start(dockerdArgs: readonly string[] = [], publish: readonly string[] = []): Promise<void> {
    sh(
      [
        `docker run -d --name ${this.name} --hostname ${this.name} --label ${TEST_LABEL} --network ${this.network} --init`,
        "--cap-add ALL --cap-drop SYS_RESOURCE --security-opt seccomp=unconfined --security-opt apparmor=unconfined",
        "--cgroupns host -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /var/lib/docker:exec",
        ...publish.map((p) => `-p ${p}`),
        NODE_IMAGE,
        `--host=unix:///var/run/docker.sock --host=tcp://0.0.0.0:2375 --tls=false --cgroup-parent=/${this.name}`,
        ...dockerdArgs,
      ].join(" "),
    );
    this.ip = sh(
      `docker inspect -f '{{(index .NetworkSettings.Networks "${this.network}").IPAddress}}' ${this.name}`,
    ).trim();
    await this.waitUp();
  }

  /** Runs `docker ARGS` against this engine. */
  docker(args: string, opts: { allowFail?: boolean } = {}): string {
    return sh(`docker -H ${this.host} ${args}`, opts);
  }

  /** Copies images from the host's engine into this one. */
  load(images: readonly string[]): void {
    for (const image of images) sh(`docker save ${image} | docker -H ${this.host} load -q >/dev/null`);
  }

  /** Stops its dockerd and keeps it down (containers keep running with --live-restore). */
  async stopDaemon(): Promise<void> {
    sh(`docker exec ${this.name} sh -c 'touch /run/node-dockerd.hold; pkill -TERM -x dockerd'`);
    await eventually(
      () => expect(sh(`docker exec ${this.name} sh -c 'pgrep -x dockerd || true'`).trim()).toBe(""),
      30_000,
    );
  }

  /** Lets its supervisor start dockerd again, and waits until it answers. */
  async startDaemon(): Promise<void> {
    sh(`docker exec ${this.name} rm -f /run/node-dockerd.hold`);
    await this.waitUp();
  }

  remove(): void {
    sh(`docker rm -f ${this.name}`, { allowFail: true });
    removeCgroups(this.name);
  }

  private async waitUp(): Promise<void> {
    await eventually(() => {
      sh(`docker -H ${this.host} info >/dev/null 2>&1`);
    }, 60_000);
  }
}

/** The node's containers left cgroup directories under its cgroup parent, in every hierarchy. */
function removeCgroups(name: string): void {
  const removeTree = (dir: string): void => {
    for (const entry of readdirSync(dir)) {
      const p = path.join(dir, entry);
      if (statSync(p).isDirectory()) removeTree(p);
    }
    rmdirSync(dir);
  };
  for (const hierarchy of readdirSync("/sys/fs/cgroup")) {
    const dir = path.join("/sys/fs/cgroup", hierarchy, name);
    try {
      removeTree(dir);
    } catch {
      /* not in this hierarchy, or still busy: harmless */
    }
  }
}
