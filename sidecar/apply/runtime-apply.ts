import { RuntimeCommandError, type RuntimeClient } from "../haproxy/runtime-client";
import type { ServerRef } from "../model/types";
import { addServerCommands, deleteServerCommands, readyCommands, type RuntimeOp } from "./runtime-plan";

/** What one runtime apply did. */
export interface RuntimeResult {
  /** Servers added, changed (address, weight, back from maintenance) and removed. */
  readonly added: readonly string[];
  readonly changed: readonly string[];
  readonly removed: readonly string[];
  /** Drained servers that still have connections: deleted on a later pass. */
  readonly pendingDeletes: readonly string[];
}

const name = (r: ServerRef): string => `${r.backend}/${r.server}`;

/**
 * Runs a runtime plan against the serving worker (drains go to every worker through the
 * master). Every command's answer is checked; a refusal throws RuntimeCommandError, except the
 * one `del server` gives while connections remain, which leaves the server for a later pass.
 * `force` lists servers drained long enough: their sessions are shut before the delete.
 */
export async function runRuntimePlan(
  runtime: RuntimeClient,
  ops: readonly RuntimeOp[],
  force: ReadonlySet<string>,
): Promise<RuntimeResult> {
  const added: string[] = [];
  const changed: string[] = [];
  const removed: string[] = [];
  const pendingDeletes: string[] = [];
  const drains = ops.filter((o): o is Extract<RuntimeOp, { kind: "drain" }> => o.kind === "drain").map((o) => o.ref);
  let drained = false;
  for (const op of ops) {
    switch (op.kind) {
      case "drain":
        // All at once, in every worker, where the plan puts the first one: after the additions.
        if (!drained) await runtime.drainServers(drains);
        drained = true;
        break;
      case "add": {
        const { line } = op;
        // The add alone (a refused add must not enable a server of that name already there),
        // then its enables on one line: each connection costs a round trip.
        const [add, ...enables] = addServerCommands(line);
        await runtime.command(add!.command, add!.success);
        await runtime.commands(enables);
        added.push(`${line.backend}/${line.name}`);
        break;
      }
      case "set-addr":
        await runtime.command(
          `set server ${name(op.ref)} addr ${op.address} port ${op.port}`,
          /changed|nothing changed/,
        );
        changed.push(name(op.ref));
        break;
      case "set-weight":
        await runtime.command(`set server ${name(op.ref)} weight ${op.weight}`, "empty");
        changed.push(name(op.ref));
        break;
      case "ready":
        if (op.line === undefined) await runtime.command(`set server ${name(op.ref)} state ready`, "empty");
        else await runtime.commands(readyCommands(op.line));
        changed.push(name(op.ref));
        break;
      case "delete": {
        const commands = deleteServerCommands(op.ref, force.has(name(op.ref)));
        const del = commands.at(-1)!;
        for (const c of commands.slice(0, -1)) await runtime.command(c.command, c.success);
        try {
          // Refused while it has connections: it waits for a later pass (or its drain time).
          await runtime.command(del.command, del.success);
          removed.push(name(op.ref));
        } catch (err) {
          if (!(err instanceof RuntimeCommandError) || !/still has connections/.test(err.reply)) throw err;
          pendingDeletes.push(name(op.ref));
        }
        break;
      }
    }
  }
  return { added, changed, removed, pendingDeletes };
}
