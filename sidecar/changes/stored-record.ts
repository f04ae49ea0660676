/**
 * Pure: a change record read back from the volume, checked field by field. The file is data
 * anyone with write access to the volume (or a crash mid-write) can change: a record is trusted
 * only once every field has the type and the range the status server and the timeline rely on.
 */
import type { Cause, CauseSource, ChangeKind, ChangeRecord } from "./records";

// Records (not arrays) so that adding a kind or a source to records.ts fails to compile here.
const KINDS: Record<ChangeKind, true> = {
  "server-added": true,
  "server-drained": true,
  "server-removed": true,
  "weight-changed": true,
  "address-changed": true,
  "backend-added": true,
  "backend-removed": true,
  "label-rejected": true,
  "config-rejected": true,
  reload: true,
  "runtime-apply": true,
  "replica-repaired": true,
  "replica-state": true,
  maintenance: true,
};
const SOURCES: Record<CauseSource, true> = {
  docker: true,
  swarm: true,
  readiness: true,
  serf: true,
  resync: true,
  haproxy: true,
  template: true,
  labels: true,
  sidecar: true,
  operator: true,
};
const VIAS: Record<NonNullable<ChangeRecord["via"]>, true> = { runtime: true, reload: true, drain: true, file: true };

/** A record's text fields are names, addresses and a few lines of HAProxy's message. */
export const MAX_FIELD_LENGTH = 4096;

type Fields = Record<string, unknown>;
const isObject = (v: unknown): v is Fields => typeof v === "object" && v !== null && !Array.isArray(v);
const show = (v: unknown): string => {
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
};

/** What is wrong with a field; caught in parseStoredRecord, never escapes it. */
class Invalid extends Error {}

function text(o: Fields, key: string): string {
  const v = o[key];
  if (typeof v !== "string") throw new Invalid(`${key}: ${show(v)} is not a string`);
  if (v.length > MAX_FIELD_LENGTH) throw new Invalid(`${key}: longer than ${MAX_FIELD_LENGTH} characters`);
  return v;
}

const textOrNull = (o: Fields, key: string): string | null => (o[key] === null ? null : text(o, key));

function time(o: Fields, key: string): string {
  const v = text(o, key);
  if (!Number.isFinite(Date.parse(v))) throw new Invalid(`${key}: ${show(v)} is not a time`);
  return v;
}

function number(o: Fields, key: string, min: number): number {
  const v = o[key];
  if (typeof v !== "number" || !Number.isFinite(v) || v < min)
    throw new Invalid(`${key}: ${show(v)} is not a number${min === -Infinity ? "" : ` from ${min}`}`);
  return v;
}

function oneOf<K extends string>(o: Fields, key: string, known: Record<K, true>): K {
  const v = o[key];
  if (typeof v !== "string" || !Object.hasOwn(known, v)) throw new Invalid(`${key}: ${show(v)} is not a known ${key}`);
  return v as K;
}

function causeOf(v: unknown): Cause {
  if (!isObject(v)) throw new Invalid(`cause: ${show(v)} is not an object`);
  try {
    return { source: oneOf(v, "source", SOURCES), event: text(v, "event"), at: number(v, "at", -Infinity) };
  } catch (err) {
    throw err instanceof Invalid ? new Invalid(`cause.${err.message}`) : err;
  }
}

/**
 * One JSON line of the change file → the record it holds (a fresh object of exactly the known
 * fields), or what is wrong with it. Never throws.
 */
export function parseStoredRecord(line: string): ChangeRecord | string {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return "not JSON (a line cut by a crash mid-write?)";
  }
  if (!isObject(v)) return "not a JSON object";
  try {
    const seq = number(v, "seq", 1);
    if (!Number.isSafeInteger(seq)) throw new Invalid(`seq: ${show(seq)} is not a whole number`);
    return {
      seq,
      kind: oneOf(v, "kind", KINDS),
      backend: textOrNull(v, "backend"),
      server: textOrNull(v, "server"),
      container: textOrNull(v, "container"),
      containerId: textOrNull(v, "containerId"),
      detail: textOrNull(v, "detail"),
      reason: text(v, "reason"),
      cause: causeOf(v["cause"]),
      triggeredAt: time(v, "triggeredAt"),
      confirmedAt: v["confirmedAt"] === null ? null : time(v, "confirmedAt"),
      tookMs: v["tookMs"] === null ? null : number(v, "tookMs", 0),
      via: v["via"] === null ? null : oneOf(v, "via", VIAS),
    };
  } catch (err) {
    if (err instanceof Invalid) return err.message;
    throw err;
  }
}
