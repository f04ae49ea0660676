import { createHash } from "node:crypto";
import Handlebars from "handlebars";
import { withHeld } from "../model/desired-state";
import { assignServerIds, type ServerIds } from "../model/server-ids";
import type { Backend, DesiredState } from "../model/types";
import { cacheEachItems } from "./each-cache";
import { parseServerLines, serverSignature, stripServerLines, type ServerLine } from "./server-lines";

/** A rendered haproxy.cfg and the identifiers that let us recognise it later. */
export interface Rendered {
  readonly text: string;
  /** sha256 of `text`, hex. */
  readonly sha256: string;
  /**
   * Short id of the config's structure: everything but which servers it lists, where, and with
   * what weight. Rendered into `global.description`, so the running HAProxy tells which
   * structure it loaded (`show info`); two renders with the same id differ only in what the
   * runtime API can change without a reload.
   */
  readonly configId: string;
  /** Its `server` lines, by `backend/server`. */
  readonly servers: ReadonlyMap<string, ServerLine>;
  /**
   * `heig.lb.drain` of the servers that have one, by `backend/server`: how long each keeps its
   * connections once it leaves. Not in the text (HAProxy has no such option): absent for a
   * config read back from its file.
   */
  readonly drainMs?: ReadonlyMap<string, number>;
  /**
   * The servers held until they listen (rendered `disabled`, see Backend.held), by
   * `backend/server`: the moment one listens, it is made ready at runtime. Absent for a config
   * read back from its file.
   */
  readonly held?: ReadonlySet<string>;
}

/** Settings the template needs besides the state: runtime paths (as `ha` sees them), stats auth. */
export interface RenderPaths {
  readonly runtimeSocket: string;
  readonly serverStateFile: string;
  /** `user:password` for the stats page, or absent for none. */
  readonly statsAuth?: string | null;
}

export type TemplateFn = (context: unknown) => string;

/** Prefix of `global.description` that carries the config id: `description ha-sidecar-{{configId}}`. */
export const DESCRIPTION_PREFIX = "ha-sidecar-";

/** Raised for a template that does not compile or throws while rendering. */
export class TemplateError extends Error {
  override readonly name = "TemplateError";
}

export function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/**
 * Compiles a Handlebars template. `strict` makes a reference to a missing field an error
 * instead of silently rendering nothing into haproxy.cfg.
 */
export function compileTemplate(source: string): TemplateFn {
  const hb = Handlebars.create();
  try {
    // Compiling eagerly surfaces syntax errors now, not at first render.
    hb.precompile(source, { strict: true });
    const cache = cacheEachItems(hb, source);
    const template = hb.compile(source, { strict: true, noEscape: true });
    return (context) => {
      try {
        return template(context);
      } finally {
        cache.rendered();
      }
    };
  } catch (err) {
    throw new TemplateError(`template does not compile: ${(err as Error).message}`);
  }
}

/** The config id a rendered text carries in its `description` line, or null. */
export function configIdOfText(text: string): string | null {
  return new RegExp(`^\\s*description ${DESCRIPTION_PREFIX}(\\S+)\\s*$`, "m").exec(text)?.[1] ?? null;
}

/** A config read back from its text (the live file): its hashes and servers, as its render gave them. */
export function renderedOfText(text: string): Rendered {
  return { text, sha256: sha256Hex(text), configId: configIdOfText(text) ?? "", servers: parseServerLines(text) };
}

/** Stands for the config id while rendering, until the id is known. */
const ID_PLACEHOLDER = "__ha_sidecar_config_id__";
/** A member given to every backend to see what the template's server lines look like. */
const PROBE_SERVER: Backend = {
  name: "ha-sidecar-probe",
  sourceId: "probe",
  address: "192.0.2.1",
  port: 1,
  weight: null,
};

/**
 * Pure: template + desired state → text. The context is plain data; every list in it is
 * already sorted, so the same state (and the same `keep`: the server ids of the config HAProxy
 * runs, see assignServerIds) always renders the same bytes. The config id hashes the
 * text without its server lines, plus the shape of a server line in each backend (taken from a
 * render with one probe member per backend, so that an empty backend has a shape too).
 */
export function renderConfig(
  template: TemplateFn,
  state: DesiredState,
  paths: RenderPaths,
  keep?: ServerIds,
): Rendered {
  const held = new Set((state.held ?? []).flatMap((s) => s.servers.map((b) => `${s.name}/${b.name}`)));
  state = withHeld(state);
  const draft = renderText(template, state, paths, keep);
  const probe = renderText(
    template,
    { ...state, services: state.services.map((s) => ({ ...s, servers: [PROBE_SERVER] })) },
    paths,
  );
  const shapes = [...new Set([...parseServerLines(probe).values()].map(serverSignature))].sort();
  const configId = sha256Hex(`${stripServerLines(draft)}\0${shapes.join("\n")}`).slice(0, 16);
  const text = draft.split(ID_PLACEHOLDER).join(configId);
  const drainMs = new Map(
    state.services.flatMap((s) =>
      s.servers.flatMap((b) => (b.drainMs === undefined ? [] : [[`${s.name}/${b.name}`, b.drainMs] as const])),
    ),
  );
  return {
    text,
    sha256: sha256Hex(text),
    configId,
    servers: parseServerLines(text),
    drainMs,
    ...(held.size > 0 ? { held } : {}),
  };
}

function renderText(template: TemplateFn, state: DesiredState, paths: RenderPaths, keep?: ServerIds): string {
  const context = {
    configId: ID_PLACEHOLDER,
    paths: { ...paths, statsAuth: paths.statsAuth ?? null },
    defaultService: state.defaultService,
    services: state.services.map((s) => {
      const ids = assignServerIds(
        s.servers.map((b) => b.name),
        keep?.get(s.name),
      );
      return {
        name: s.name,
        isDefault: s.name === state.defaultService,
        sticky: s.sticky,
        servers: s.servers.map((b) => ({
          name: b.name,
          id: ids.get(b.name)!,
          address: b.address,
          port: b.port,
          weight: b.weight,
          // HAProxy's own option, in ms; it ramps a server only when it sees it go from down to up.
          slowstart: b.slowstartMs ?? null,
          // `sidecar maint`: the line stays, in maintenance (a reload keeps it so). A server held
          // until it listens is in maintenance too: a template that honours `maint` needs nothing else.
          maint: b.maint === true || b.held === true,
        })),
      };
    }),
  };
  let text: string;
  try {
    text = template(context);
  } catch (err) {
    throw new TemplateError(`template failed to render: ${(err as Error).message}`, { cause: err });
  }
  return text.endsWith("\n") ? text : `${text}\n`;
}
