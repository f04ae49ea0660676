/**
 * Pure: the Serf agent's RPC answers, once decoded, checked field by field. Each check answers
 * the value, or a message naming what is wrong (the client turns it into a SerfProtocolError:
 * an agent that answers this way is unreachable as far as the sidecar is concerned).
 */
import type { SerfMember } from "../model/types";

/** A response header: the command's sequence number, and the agent's error ("" for none). */
export interface RpcHeader {
  readonly seq: number;
  readonly error: string;
}

/** The membership events the client subscribes to; anything else is named `member-event`. */
export const MEMBER_EVENTS = ["member-join", "member-leave", "member-failed", "member-update", "member-reap"] as const;

type Fields = Record<string, unknown>;
const isMap = (v: unknown): v is Fields =>
  typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
const what = (v: unknown): string =>
  v === null ? "nil" : v instanceof Uint8Array ? "binary" : Array.isArray(v) ? "an array" : `a ${typeof v}`;

/** `{Seq, Error}`. */
export function parseHeader(v: unknown): RpcHeader | string {
  if (!isMap(v)) return `header: ${what(v)}, not a map`;
  const seq = v["Seq"];
  if (typeof seq !== "number" || !Number.isSafeInteger(seq) || seq < 0) return "header: Seq is not a sequence number";
  const error = v["Error"] ?? "";
  if (typeof error !== "string") return `header: Error is ${what(error)}, not a string`;
  return { seq, error };
}

/** Serf's `Addr` is a Go net.IP: 4 bytes, or 16 (IPv4 mapped into IPv6 comes back as IPv4). */
export function serfAddr(addr: Uint8Array): string {
  const b = Array.from(addr);
  if (b.length === 4) return b.join(".");
  if (b.length === 16 && b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff)
    return b.slice(12).join(".");
  const words: string[] = [];
  for (let i = 0; i + 1 < b.length; i += 2) words.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  return words.join(":");
}

/** One member of a `members` answer (or of an event): Name, Addr, Status, Tags; other fields are not read. */
export function parseMember(v: unknown): SerfMember | string {
  if (!isMap(v)) return `member: ${what(v)}, not a map`;
  const name = v["Name"];
  if (typeof name !== "string") return `member: Name is ${what(name)}, not a string`;
  const status = v["Status"];
  if (typeof status !== "string") return `member ${name}: Status is ${what(status)}, not a string`;
  const addr = v["Addr"] ?? null;
  if (addr !== null && !(addr instanceof Uint8Array && (addr.length === 4 || addr.length === 16)))
    return `member ${name}: Addr is ${what(addr)}, not 4 or 16 bytes`;
  const tags = v["Tags"] ?? {};
  if (!isMap(tags)) return `member ${name}: Tags is ${what(tags)}, not a map`;
  const entries = Object.entries(tags);
  const bad = entries.find(([, t]) => typeof t !== "string");
  if (bad !== undefined) return `member ${name}: tag ${bad[0]} is ${what(bad[1])}, not a string`;
  return {
    name,
    address: addr === null ? "" : serfAddr(addr),
    status,
    tags: Object.fromEntries(entries) as Record<string, string>,
  };
}

/** The body of a `members` answer: `{Members: [...]}` (nil for none). */
export function parseMembers(v: unknown): SerfMember[] | string {
  if (!isMap(v)) return `members: ${what(v)}, not a map`;
  const list = v["Members"] ?? [];
  if (!Array.isArray(list)) return `members: Members is ${what(list)}, not an array`;
  const out: SerfMember[] = [];
  for (const m of list) {
    const member = parseMember(m);
    if (typeof member === "string") return member;
    out.push(member);
  }
  return out;
}

/** The body of a stream event: its `Event` when it is a membership event Serf names, else `member-event`. */
export function parseEvent(v: unknown): { readonly event: string } | string {
  if (!isMap(v)) return `event: ${what(v)}, not a map`;
  const event = v["Event"];
  return { event: (MEMBER_EVENTS as readonly unknown[]).includes(event) ? (event as string) : "member-event" };
}
