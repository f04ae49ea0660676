import { promises as fs } from "node:fs";
import type { ServerIds } from "../model/server-ids";
import type { DesiredState } from "../model/types";
import { proxyNames } from "./server-lines";
import {
  compileTemplate,
  DESCRIPTION_PREFIX,
  renderConfig,
  TemplateError,
  type RenderPaths,
  type Rendered,
  type TemplateFn,
} from "./render";

/**
 * The template on disk, read at every render (an operator may edit it in place) and compiled
 * again only when its text changed. The one piece of render/ that does I/O.
 */
export class TemplateFile {
  private compiled: { source: string; fn: TemplateFn; reserved: Map<string, ReadonlySet<string>> } | null = null;
  /** What the file looked like at the last `changed()`: inode, size, mtime. */
  private seen: string | null = null;
  constructor(
    private readonly path: string,
    private readonly paths: RenderPaths,
  ) {}

  /**
   * Renders `state` (its servers keeping the ids in `keep`, see assignServerIds); throws
   * TemplateError for a template that cannot be read, compiled or used.
   */
  async render(state: DesiredState, keep?: ServerIds): Promise<Rendered> {
    const t = await this.load();
    const rendered = renderConfig(t.fn, state, this.paths, keep);
    if (!rendered.text.includes(`description ${DESCRIPTION_PREFIX}${rendered.configId}`)) {
      throw new TemplateError(
        `template must keep "description ${DESCRIPTION_PREFIX}{{configId}}" in its global section: the sidecar reads it back to confirm reloads`,
      );
    }
    return rendered;
  }

  /**
   * True when the file is not as it was at the last call (edited, replaced, removed, back): the
   * first call only takes its measure. A stat, not a read: cheap enough to ask every second.
   */
  async changed(): Promise<boolean> {
    const now = await fs.stat(this.path).then(
      (st) => `${st.ino}:${st.size}:${st.mtimeMs}`,
      (err: NodeJS.ErrnoException) => `missing:${err.code ?? "?"}`,
    );
    const before = this.seen;
    this.seen = now;
    return before !== null && before !== now;
  }

  /**
   * The names the template gives proxies of its own (its frontend, its stats listener...): a
   * backend of the same name would make HAProxy reject the whole config.
   */
  async reservedNames(defaultService: string): Promise<ReadonlySet<string>> {
    const t = await this.load();
    let names = t.reserved.get(defaultService);
    if (names === undefined) {
      const empty = renderConfig(
        t.fn,
        { defaultService, services: [{ name: defaultService, sticky: false, servers: [] }] },
        this.paths,
      );
      names = new Set(proxyNames(empty.text).filter((n) => n !== defaultService));
      t.reserved.set(defaultService, names);
    }
    return names;
  }

  private async load(): Promise<{ source: string; fn: TemplateFn; reserved: Map<string, ReadonlySet<string>> }> {
    let source: string;
    try {
      source = await fs.readFile(this.path, "utf8");
    } catch (err) {
      throw new TemplateError(`cannot read template ${this.path}: ${(err as Error).message}`, { cause: err });
    }
    if (this.compiled?.source !== source) this.compiled = { source, fn: compileTemplate(source), reserved: new Map() };
    return this.compiled;
  }
}
