import { createHash } from "node:crypto";
import Handlebars from "handlebars";
import type { DesiredState } from "../model/types";

/** A rendered haproxy.cfg and the identifiers that let us recognise it later. */
export interface Rendered {
  readonly text: string;
  /** sha256 of `text`, hex. */
  readonly sha256: string;
  /**
   * Short id of (template, state), rendered into `global.description` so the running HAProxy
   * can tell us which config it loaded (`show info` on the runtime socket).
   */
  readonly configId: string;
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
    return hb.compile(source, { strict: true, noEscape: true });
  } catch (err) {
    throw new TemplateError(`template does not compile: ${(err as Error).message}`);
  }
}

/**
 * Pure: template + desired state → text. The context is plain data; every list in it is
 * already sorted, so the same state always renders the same bytes.
 */
export function renderConfig(
  template: TemplateFn,
  templateSource: string,
  state: DesiredState,
  paths: RenderPaths,
): Rendered {
  const configId = sha256Hex(`${templateSource}\0${JSON.stringify(state)}\0${JSON.stringify(paths)}`).slice(0, 16);
  const context = {
    configId,
    paths: { ...paths, statsAuth: paths.statsAuth ?? null },
    defaultService: state.defaultService,
    services: state.services.map((s) => ({
      name: s.name,
      isDefault: s.name === state.defaultService,
      sticky: s.sticky,
      servers: s.servers.map((b) => ({ name: b.name, address: b.address, port: b.port, weight: b.weight })),
    })),
  };
  let text: string;
  try {
    text = template(context);
  } catch (err) {
    throw new TemplateError(`template failed to render: ${(err as Error).message}`);
  }
  if (!text.endsWith("\n")) text += "\n";
  return { text, sha256: sha256Hex(text), configId };
}
