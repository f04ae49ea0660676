import { RuntimeCommandError, type RuntimeClient } from "../haproxy/runtime-client";
import type { ServerRef } from "../model/types";
import type { RuntimeOp } from "./runtime-plan";

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
        const ref = `${line.backend}/${line.name}`;
        await runtime.command(
          `add server ${ref} ${line.address}:${line.port} ${line.options.join(" ")}`.trim(),
          /^New server registered\.$/,
        );
        // A dynamic server starts in maintenance with its checks off; once enabled it is UP at
        // once (the sidecar only adds servers that accept connections).
        if (line.options.includes("check")) await runtime.command(`enable health ${ref}`, "empty");
        await runtime.command(`enable server ${ref}`, "empty");
        added.push(ref);
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
        await runtime.command(`set server ${name(op.ref)} state ready`, "empty");
        changed.push(name(op.ref));
        break;
      case "delete":
        if (force.has(name(op.ref))) await runtime.command(`shutdown sessions server ${name(op.ref)}`, "empty");
        try {
          await runtime.command(`del server ${name(op.ref)}`, /^Server deleted\.$/);
          removed.push(name(op.ref));
        } catch (err) {
          if (!(err instanceof RuntimeCommandError) || !/still has connections/.test(err.reply)) throw err;
          pendingDeletes.push(name(op.ref));
        }
        break;
    }
  }
  return { added, changed, removed, pendingDeletes };
}
