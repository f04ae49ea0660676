import { Batcher } from "../lib/batcher";
import type { ServerRef } from "../model/types";
import {
  configIdOf,
  parseServersState,
  parseShowStat,
  parseWorkerPid,
  parseWorkerPids,
  replyError,
  type RunningServer,
} from "./parse";
import { socketCommand } from "./socket";

/** Servers set to maintenance per CLI line (`@!pid set server …; …`): well within HAProxy's 16 kB buffer. */
export const DRAINS_PER_LINE = 64;

/** HAProxy refused a CLI command; `reply` is HAProxy's own message. */
export class RuntimeCommandError extends Error {
  override readonly name = "RuntimeCommandError";
  constructor(
    readonly command: string,
    readonly reply: string,
  ) {
    super(`haproxy refused "${command}": ${reply}`);
  }
}

/** One CLI command and what a good answer to it looks like (see RuntimeClient.command). */
export interface RuntimeCommand {
  readonly command: string;
  readonly success: "empty" | RegExp;
}

/** Which config the serving worker runs (`show info`). */
export interface RunningInfo {
  /** The config id in its `description` ("" for a config without one). */
  readonly configId: string;
  /** The serving worker's pid: another one after every reload or restart; null when not said. */
  readonly worker: number | null;
}

/** The running HAProxy, through its runtime API (the serving worker) and its master CLI. */
export interface RuntimeClient {
  /**
   * One command to the serving worker; its answer, or RuntimeCommandError when refused.
   * `success`: what a good answer looks like (HAProxy has no status codes): "empty" for the
   * commands that answer nothing, a pattern for those that answer a sentence; without it, any
   * answer that is not a known refusal.
   */
  command(command: string, success?: "empty" | RegExp): Promise<string>;
  /**
   * Commands that go together (a new server's enables), in order, on one line: one connection,
   * not one each. HAProxy runs every one, refused or not; RuntimeCommandError names the first
   * refused, or the first that got no answer.
   */
  commands(commands: readonly RuntimeCommand[]): Promise<void>;
  /** One command to the master CLI (`@!<pid> …` reaches one worker, old ones included). */
  masterCommand(command: string): Promise<string>;
  /** Config id the serving worker loaded ("" for a config without one); null when unreachable. */
  runningConfigId(): Promise<string | null>;
  /** The config id and the pid of the serving worker; null when unreachable. */
  runningInfo(): Promise<RunningInfo | null>;
  /** Server statuses (`backend/server` → UP, DOWN, MAINT…) of the serving worker, or null. */
  serverStatuses(): Promise<Map<string, string> | null>;
  /** `show servers state`: what the next worker loads to keep servers' state across a reload. */
  serverStateDump(): Promise<string>;
  /** The servers the serving worker runs, by `backend/server`. */
  servers(): Promise<Map<string, RunningServer>>;
  /** Sets servers to maintenance in every running worker, old ones included. */
  drainServers(servers: readonly ServerRef[]): Promise<void>;
}

/** The runtime and master sockets on the volume shared with `ha`. */
export class SocketRuntimeClient implements RuntimeClient {
  constructor(
    private readonly runtimeSocket: string,
    private readonly masterSocket: string,
    private readonly timeoutMs = 2_000,
    /** Told the number of CLI commands each line sent carries (`a; b` is two): for /metrics. */
    private readonly onCommands: (count: number) => void = () => undefined,
  ) {}

  /** One line to a socket, counted. */
  private send(socket: string, line: string): Promise<string> {
    this.onCommands(line.split(";").length);
    return socketCommand(socket, line, this.timeoutMs);
  }

  async command(command: string, success?: "empty" | RegExp): Promise<string> {
    const reply = await this.send(this.runtimeSocket, command);
    if (success === undefined) return checked(command, reply);
    expectAnswer({ command, success }, reply);
    return reply;
  }

  async commands(commands: readonly RuntimeCommand[]): Promise<void> {
    if (commands.length === 0) return;
    const line = commands.map((c) => c.command).join("; ");
    const answers = splitAnswers(await this.send(this.runtimeSocket, line));
    commands.forEach((c, i) => {
      // A command without its own answer (a reply cut short) did not succeed.
      if (answers[i] === undefined) throw new RuntimeCommandError(c.command, "(no answer)");
      expectAnswer(c, answers[i]);
    });
  }

  async masterCommand(command: string): Promise<string> {
    return checked(command, await this.send(this.masterSocket, command));
  }

  async runningConfigId(): Promise<string | null> {
    return (await this.runningInfo())?.configId ?? null;
  }

  async runningInfo(): Promise<RunningInfo | null> {
    try {
      const info = await this.command("show info");
      return { configId: configIdOf(info), worker: parseWorkerPid(info) };
    } catch {
      return null;
    }
  }

  async serverStatuses(): Promise<Map<string, string> | null> {
    try {
      return parseShowStat(await this.command("show stat"));
    } catch {
      return null;
    }
  }

  serverStateDump(): Promise<string> {
    return this.command("show servers state");
  }

  async servers(): Promise<Map<string, RunningServer>> {
    return parseServersState(await this.serverStateDump());
  }

  /**
   * Sets servers to maintenance in every worker. Drains asked for while one is under way go
   * together into the next (a burst of stops must not open a connection per stop and worker at
   * once: the master socket's backlog is short, and the connects past it fail with EAGAIN).
   */
  drainServers(servers: readonly ServerRef[]): Promise<void> {
    if (servers.length === 0) return Promise.resolve();
    return this.drains.run(servers);
  }

  private readonly drains = new Batcher<ServerRef>(async (asked) => {
    const servers = [...new Map(asked.map((s) => [`${s.backend}/${s.server}`, s])).values()];
    const pids = parseWorkerPids(await this.masterCommand("show proc"));
    // One connection per worker and chunk of servers (a CLI line is read into one buffer). A
    // worker that never had the server answers "No such server", and an old worker after a
    // reload "Proxy is disabled." (it takes no new connections and refuses `set server`):
    // neither is a failure.
    for (let i = 0; i < servers.length; i += DRAINS_PER_LINE) {
      const commands = servers
        .slice(i, i + DRAINS_PER_LINE)
        .map((s) => `set server ${s.backend}/${s.server} state maint`)
        .join("; ");
      await Promise.all(
        pids.map(async (pid) => {
          const reply = await this.send(this.masterSocket, prefixEach(commands, `@!${pid}`));
          const refusal = replyError(reply);
          if (refusal !== null && !/^(No such (server|backend)|Proxy is disabled)/im.test(refusal)) {
            throw new RuntimeCommandError(`@!${pid} ${commands}`, refusal);
          }
        }),
      );
    }
  });
}

function prefixEach(commands: string, prefix: string): string {
  return commands
    .split("; ")
    .map((c) => `${prefix} ${c}`)
    .join("; ");
}

/**
 * Pure: the answers of a line of commands (`a; b; c`), one per command. HAProxy ends each answer
 * with an empty line, so one that says nothing is an empty line alone.
 */
export function splitAnswers(reply: string): string[] {
  const answers: string[] = [];
  let current: string[] = [];
  const lines = reply.split("\n");
  if (lines.at(-1) === "") lines.pop();
  for (const line of lines) {
    if (line !== "") {
      current.push(line);
      continue;
    }
    answers.push(current.join("\n"));
    current = [];
  }
  if (current.length > 0) answers.push(current.join("\n"));
  return answers;
}

/** Throws RuntimeCommandError unless `reply` is what a good answer to `c` looks like. */
function expectAnswer(c: RuntimeCommand, reply: string): void {
  const answer = reply.trim();
  const good = c.success === "empty" ? answer === "" : c.success.test(answer);
  if (!good) throw new RuntimeCommandError(c.command, answer || "(no answer)");
}

function checked(command: string, reply: string): string {
  const refusal = replyError(reply);
  if (refusal !== null) throw new RuntimeCommandError(command, refusal);
  return reply;
}
