import type { Logger } from "pino";
import type { DesiredState } from "../model/types";
import { isolateRejected, lineOf, type StateCheck } from "./isolate";

/**
 * Members whose server line HAProxy rejected: kept out (reported on /status with HAProxy's
 * message) while they stay the same; one that changes (labels, address) or goes away is
 * forgotten and tried again.
 */
export class RejectedMembers {
  private readonly members = new Map<string, { readonly line: string; readonly message: string }>();

  constructor(private readonly log: Logger) {}

  /** The ones to keep out of this state, with HAProxy's message. Forgets those that changed. */
  current(state: DesiredState, present: ReadonlySet<string>): ReadonlyMap<string, string> {
    if (this.members.size === 0) return new Map();
    const lines = new Map(
      state.services.flatMap((s) => s.servers.map((b) => [b.sourceId, lineOf(s.name, b)] as const)),
    );
    for (const [id, r] of this.members) {
      const now = lines.get(id);
      if (!present.has(id) || (now !== undefined && now !== r.line)) this.members.delete(id);
    }
    return new Map([...this.members].map(([id, r]) => [id, r.message]));
  }

  /**
   * After `state` was rejected: the members to keep out from now on (empty when the fault is
   * not a member's). `names` say which containers they are, for the log.
   */
  async isolate(
    state: DesiredState,
    applied: DesiredState | null,
    message: string,
    check: StateCheck,
  ): Promise<string[]> {
    const culprits = await isolateRejected(state, applied, check);
    if (culprits === null || culprits.length === 0) return [];
    const byId = new Map(state.services.flatMap((s) => s.servers.map((b) => [b.sourceId, { s: s.name, b }] as const)));
    for (const id of culprits) {
      const m = byId.get(id)!;
      this.members.set(id, { line: lineOf(m.s, m.b), message });
    }
    this.log.warn(
      { containers: culprits.map((id) => byId.get(id)!.b.name), haproxy: message },
      "haproxy rejects these containers' server lines: routing everyone else",
    );
    return culprits;
  }
}
