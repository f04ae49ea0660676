import type Docker from "dockerode";
import type { Logger } from "pino";
import { deadline, followDockerEvents, type EventStreamOptions } from "../docker/event-stream";
import { toError } from "../lib/errors";
import type { BackendSnapshot } from "../model/types";
import type { BackendSource, SourceSignal } from "../source/backend-source";
import {
  converging,
  taskContainerHint,
  diffTasks,
  isOurs,
  mapTask,
  viewOf,
  type SwarmService,
  type SwarmTask,
  type TaskView,
} from "./map";

export interface SwarmSourceOptions extends EventStreamOptions {
  /** The task list is polled this often while a service converges (an update, tasks starting or stopping)… */
  readonly convergingPollMs: number;
  /** …and this often otherwise (a task that dies on a worker sends the manager no event). */
  readonly idlePollMs: number;
}

/**
 * A Swarm service's tasks, across the swarm's nodes, through a manager's API: a backend is a
 * task (its own address on the overlay, never the service's VIP). Service and node events and
 * the task list, polled, tell what changes.
 */
export class SwarmSource implements BackendSource {
  constructor(
    private readonly docker: Docker,
    private readonly network: string,
    private readonly labelPrefix: string,
    private readonly log: Logger,
    private readonly opts: SwarmSourceOptions,
  ) {}

  async list(signal?: AbortSignal): Promise<BackendSnapshot[]> {
    const { services, tasks } = await this.fetch(signal);
    const byId = new Map(services.map((s) => [s.ID, s]));
    return tasks.flatMap((t) => {
      const s = byId.get(t.ServiceID ?? "");
      const snap = s === undefined ? null : mapTask(t, s, this.network);
      return snap === null ? [] : [snap];
    });
  }

  watch(listener: (s: SourceSignal) => void, signal: AbortSignal): void {
    let hurry = false;
    followDockerEvents(
      this.docker,
      { type: ["service", "node", "container"] },
      (msg) => {
        if (msg.Type === "container") {
          // Tasks on this node (the manager's) say at once what the task list says later: a
          // kill or a crash drains at once, a start looks at the tasks now.
          const hint = taskContainerHint(msg, this.network);
          if (hint === null) return;
          hurry = true;
          listener({ kind: "hint", hint });
          poke();
          return;
        }
        // An update, a scale, a node going down or drained: look at the tasks now, and often.
        hurry = true;
        listener({
          kind: "hint",
          hint: { kind: "changed", id: msg.Actor?.ID ?? "", cause: `${msg.Type ?? "swarm"}-${msg.Action ?? "event"}` },
        });
        poke();
      },
      listener,
      signal,
      this.opts,
      this.log,
    );
    let known: Map<string, TaskView> | null = null;
    let timer: ReturnType<typeof setTimeout> | null = null;
    let polling = false;
    const poll = async (): Promise<void> => {
      polling = true;
      let fast = hurry;
      hurry = false;
      try {
        const { services, tasks } = await this.fetch(signal);
        const views = new Map(tasks.map((t) => [t.ID, viewOf(t, this.network)]));
        if (known !== null) for (const hint of diffTasks(known, views)) listener({ kind: "hint", hint });
        known = views;
        fast ||= converging(services, tasks);
      } catch (err) {
        this.log.debug({ err: toError(err) }, "task poll failed");
      } finally {
        polling = false;
      }
      schedule(fast ? this.opts.convergingPollMs : this.opts.idlePollMs);
    };
    const schedule = (ms: number): void => {
      if (signal.aborted) return;
      if (timer !== null) clearTimeout(timer);
      timer = setTimeout(() => void poll(), ms);
    };
    const poke = (): void => {
      if (!polling) schedule(0);
    };
    signal.addEventListener("abort", () => timer !== null && clearTimeout(timer), { once: true });
    schedule(0);
  }

  /** Our services (the opt-in label on the service or its containers) and their tasks. */
  private async fetch(signal?: AbortSignal): Promise<{ services: SwarmService[]; tasks: SwarmTask[] }> {
    const all = (await this.docker.listServices({
      abortSignal: deadline(this.opts.callTimeoutMs, "docker: list services", signal),
    } as object)) as unknown as SwarmService[];
    const services = all.filter((s) => isOurs(s, this.labelPrefix));
    if (services.length === 0) return { services, tasks: [] };
    const tasks = (await this.docker.listTasks({
      filters: { service: services.map((s) => s.ID) },
      abortSignal: deadline(this.opts.callTimeoutMs, "docker: list tasks", signal),
    } as object)) as unknown as SwarmTask[];
    return { services, tasks };
  }
}
