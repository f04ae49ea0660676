/**
 * Handlebars' `each`, remembering what each item rendered: a render differs from the last one
 * by a few servers, and a thousand server lines rendered again were most of a pass's garbage
 * (about 4 KB each: Handlebars' helper options, program wrappers and source locations). Only
 * for a block whose text depends on nothing but its item and fields of its parent,
 * which the template's syntax tree tells: no `@index` or other data, no partial, no helper but
 * `if` and `unless`, no block parameters (its own or an enclosing block's), nothing further up
 * than `../`. And only for items and fields that their JSON tells apart (strings, finite
 * numbers, booleans, null, and flat objects of those: the sidecar's render context); anything
 * else is rendered afresh. Any other block is the built-in `each`, unchanged.
 */
import type Handlebars from "handlebars";

type HelperOptions = Handlebars.HelperOptions & { readonly loc?: { readonly start: Location; readonly end: Location } };
type Location = { readonly line: number; readonly column: number };
type Node = hbs.AST.Node;

/** An item's text, and the render that last used it. */
type Entry = { readonly text: string; used: number };

/** Which fields of its parent a block reads (`../x`), or null: its text depends on more. */
type Plan = readonly string[] | null;

/** Helpers a pure block may call: they pick a branch of the block by their argument, nothing more. */
const BRANCHING = new Set(["if", "unless"]);

/** What cacheEachItems gives: the call to make after each render, and what it did so far. */
export interface EachCache {
  /** After each render: every 16 renders, what the last 8 did not use is forgotten. */
  rendered(): void;
  /** Items rendered from memory, and rendered afresh into it, so far. */
  counts(): { readonly hits: number; readonly misses: number };
}

/** Registers the caching `each` on `hb` for `template` (its source). */
export function cacheEachItems(hb: typeof Handlebars, template: string): EachCache {
  const plans = new Map<string, Plan>();
  planBlocks(hb.parse(template), new Set(Object.keys(hb.helpers)), new Set(), plans);
  const builtin = hb.helpers["each"] as Handlebars.HelperDelegate;
  // By block and parent fields, then by item: an item's key is its JSON alone, made once (a key
  // joined from the three was copied again by each lookup, at a thousand items a render).
  const cache = new Map<string, Map<string, Entry>>();
  let renders = 0;
  let hits = 0;
  let misses = 0;

  hb.registerHelper("each", function (this: unknown, context: unknown, options?: HelperOptions): string {
    const loc = options?.loc;
    const at = loc === undefined ? undefined : locKey(loc.start, loc.end);
    const plan = at === undefined ? null : (plans.get(at) ?? null);
    const values = plan === null ? null : plan.map((name) => valueOf(this, name));
    if (
      options === undefined ||
      values === null ||
      !values.every(keyable) ||
      !Array.isArray(context) ||
      context.length === 0
    )
      return builtin.call(this, context, options) as string;
    const block = `${at}\0${JSON.stringify(values)}`;
    let items = cache.get(block);
    if (items === undefined) cache.set(block, (items = new Map<string, Entry>()));
    // The body reads no data (see pure()): one frame serves every item it renders.
    const data: unknown = options.data === undefined ? undefined : hb.createFrame(options.data);
    let out = "";
    for (let i = 0; i < context.length; i++) {
      if (!(i in context)) continue; // a hole, skipped as Handlebars' each skips it
      const item: unknown = context[i];
      if (!keyable(item) && !flatRecord(item)) {
        out += options.fn(item, { data });
        continue;
      }
      // Its JSON is all it is (see keyable): two items with one key render alike.
      const key = JSON.stringify(item);
      let entry = items.get(key);
      if (entry === undefined) {
        items.set(key, (entry = { text: options.fn(item, { data }), used: renders }));
        misses++;
      } else {
        entry.used = renders;
        hits++;
      }
      out += entry.text;
    }
    return out;
  });

  return {
    // A pass renders twice (the config, and one probe server a backend): 8 renders are 4 passes.
    rendered: () => {
      renders++;
      if (renders % 16 === 0)
        cache.forEach((items, block) => {
          items.forEach((entry, key) => entry.used < renders - 8 && items.delete(key));
          if (items.size === 0) cache.delete(block);
        });
    },
    counts: () => ({ hits, misses }),
  };
}

const locKey = (start: Location, end: Location): string => `${start.line}:${start.column}-${end.line}:${end.column}`;

/** A parent's field as Handlebars looks it up (`lookupProperty`: own properties only). */
function valueOf(parent: unknown, name: string): unknown {
  if (parent === null || parent === undefined) return undefined;
  return Object.prototype.hasOwnProperty.call(parent, name) ? (parent as Record<string, unknown>)[name] : undefined;
}

/**
 * Whether a value is one its JSON tells apart from every other: a string, a finite number, a
 * boolean or null (not undefined, NaN or a Date, which JSON confuses with others).
 */
function keyable(v: unknown): boolean {
  return v === null || typeof v === "string" || typeof v === "boolean" || (typeof v === "number" && Number.isFinite(v));
}

/** A plain object whose own fields are all keyable: its JSON is all it is. */
function flatRecord(v: unknown): boolean {
  if (typeof v !== "object" || v === null || Object.getPrototypeOf(v) !== Object.prototype) return false;
  for (const k in v) if (!Object.hasOwn(v, k) || !keyable((v as Record<string, unknown>)[k])) return false;
  return true;
}

/**
 * Walks a program: each `each` block found gets its plan, by its location. `scope`: the block
 * parameters that enclosing blocks declare (`{{#each services as |s|}}`), which a body may read.
 */
function planBlocks(
  node: Node,
  helpers: ReadonlySet<string>,
  scope: ReadonlySet<string>,
  plans: Map<string, Plan>,
): void {
  for (const child of children(node)) {
    let inner = scope;
    if (child.type === "BlockStatement") {
      const block = child as hbs.AST.BlockStatement;
      if (block.path.original === "each" && block.loc)
        plans.set(locKey(block.loc.start, block.loc.end), planOf(block, helpers, scope));
      const declared = [...(block.program?.blockParams ?? []), ...(block.inverse?.blockParams ?? [])];
      if (declared.length > 0) inner = new Set([...scope, ...declared]);
    }
    planBlocks(child, helpers, inner, plans);
  }
}

/** The plan of one `each` block: the parent fields its body reads, or null when it is not pure. */
function planOf(block: hbs.AST.BlockStatement, helpers: ReadonlySet<string>, scope: ReadonlySet<string>): Plan {
  // `{{^each}}` has no program; a body with block parameters of its own reads its index.
  if (block.program === undefined || block.program === null || block.program.blockParams?.length) return null;
  const parent = new Set<string>();
  return pure(block.program, helpers, scope, parent) ? [...parent].sort() : null;
}

/**
 * Whether a node's text depends on its context (and the parent fields collected) alone: not on
 * data, a block parameter of an enclosing block (`scope`), a helper, or anything further up.
 */
function pure(node: Node, helpers: ReadonlySet<string>, scope: ReadonlySet<string>, parent: Set<string>): boolean {
  switch (node.type) {
    case "ContentStatement":
    case "CommentStatement":
    case "StringLiteral":
    case "NumberLiteral":
    case "BooleanLiteral":
    case "UndefinedLiteral":
    case "NullLiteral":
      return true;
    case "PathExpression": {
      const path = node as hbs.AST.PathExpression;
      if (path.data || path.depth > 1) return false;
      if (path.parts.length > 0 && scope.has(path.parts[0]!)) return false;
      if (path.depth === 1) {
        // The parent's field the path starts with goes into the key (`../a.b`: `a`, whose value
        // must be one JSON tells apart, see keyable); `..` itself, the whole parent: no.
        if (path.parts.length === 0) return false;
        parent.add(path.parts[0]!);
      }
      return true;
    }
    case "Program":
      return (node as hbs.AST.Program).body.every((s) => pure(s, helpers, scope, parent));
    case "MustacheStatement": {
      const m = node as hbs.AST.MustacheStatement;
      // A plain value: no helper call (and no name a helper has).
      if (m.params.length > 0 || m.hash?.pairs.length) return false;
      // A path's or a literal's text: `{{log}}` and `{{"log"}}` both call the helper.
      const name = (m.path as { original?: string | number | boolean }).original;
      if (name !== undefined && helpers.has(`${name}`)) return false;
      return pure(m.path, helpers, scope, parent);
    }
    case "BlockStatement": {
      const b = node as hbs.AST.BlockStatement;
      if (!BRANCHING.has(b.path.original) || b.params.length !== 1) return false;
      if (b.program?.blockParams?.length || b.inverse?.blockParams?.length) return false;
      const hash = b.hash?.pairs ?? [];
      return (
        pure(b.params[0]!, helpers, scope, parent) &&
        hash.every((p) => pure(p.value, helpers, scope, parent)) &&
        (b.program === undefined || b.program === null || pure(b.program, helpers, scope, parent)) &&
        (b.inverse === undefined || b.inverse === null || pure(b.inverse, helpers, scope, parent))
      );
    }
    default:
      // Partials, decorators, sub-expressions, anything new: not known to be pure.
      return false;
  }
}

/** The statements and programs directly under a node, where `each` blocks may be found. */
function children(node: Node): Node[] {
  switch (node.type) {
    case "Program":
      return (node as hbs.AST.Program).body;
    case "BlockStatement":
    case "DecoratorBlock": {
      const b = node as hbs.AST.BlockStatement;
      return [b.program, b.inverse].filter((p): p is hbs.AST.Program => p !== undefined && p !== null);
    }
    case "PartialBlockStatement": {
      const p = node as hbs.AST.PartialBlockStatement;
      return p.program ? [p.program] : [];
    }
    default:
      return [];
  }
}
