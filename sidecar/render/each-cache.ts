/**
 * Handlebars' `each`, remembering what each item rendered: a render differs from the last one
 * by a few servers, and a thousand server lines rendered again were most of a pass's garbage
 * (about 4 KB each: Handlebars' helper options, program wrappers and source locations). Only
 * for a block whose text depends on nothing but its item and its parent's fields, which the
 * template's syntax tree tells: no `@index` or other data, no partial, no helper but `if` and
 * `unless`, no block parameters, nothing further up than `../`. Any other block is the
 * built-in `each`, unchanged.
 */
import type Handlebars from "handlebars";

type HelperOptions = Handlebars.HelperOptions & { readonly loc?: { readonly start: Location; readonly end: Location } };
type Location = { readonly line: number; readonly column: number };
type Node = hbs.AST.Node;

/** Which of a block's paths it reads from its parent (`../x`), or null: its text depends on more. */
type Plan = readonly string[] | null;

/** Helpers a pure block may call: they pick a branch of the block by their argument, nothing more. */
const BRANCHING = new Set(["if", "unless"]);

/**
 * Registers the caching `each` on `hb` for `template` (its source); returns the function to call
 * after each render, which forgets what recent renders did not use.
 */
export function cacheEachItems(hb: typeof Handlebars, template: string): () => void {
  const plans = new Map<string, Plan>();
  planBlocks(hb.parse(template), new Set(Object.keys(hb.helpers)), plans);
  const builtin = hb.helpers["each"] as Handlebars.HelperDelegate;
  const cache = new Map<string, { readonly text: string; used: number }>();
  let renders = 0;

  hb.registerHelper("each", function (this: unknown, context: unknown, options: HelperOptions): string {
    const at = options.loc === undefined ? undefined : locKey(options.loc.start, options.loc.end);
    const plan = at === undefined ? null : (plans.get(at) ?? null);
    if (plan === null || !Array.isArray(context) || context.length === 0)
      return builtin.call(this, context, options) as string;
    const parent = plan.length === 0 ? "" : JSON.stringify(plan.map((path) => valueAt(this, path)));
    // The body reads no data (see pure()): one frame serves every item it renders.
    const data: unknown = options.data === undefined ? undefined : hb.createFrame(options.data);
    let out = "";
    for (let i = 0; i < context.length; i++) {
      const item: unknown = context[i];
      // Items are plain data (the sidecar's render context: no functions, which JSON would drop).
      const key = `${at}\0${parent}\0${JSON.stringify(item)}`;
      let entry = cache.get(key);
      if (entry === undefined) cache.set(key, (entry = { text: options.fn(item, { data }), used: renders }));
      else entry.used = renders;
      out += entry.text;
    }
    return out;
  });

  // Every 16 renders, what the last 8 did not use is forgotten (a pass renders twice: the
  // config, and one probe server a backend).
  return () => {
    renders++;
    if (renders % 16 === 0) cache.forEach((entry, key) => entry.used < renders - 8 && cache.delete(key));
  };
}

const locKey = (start: Location, end: Location): string => `${start.line}:${start.column}-${end.line}:${end.column}`;

/** The value at a dotted path of `root` (own properties only, as Handlebars looks them up). */
function valueAt(root: unknown, path: string): unknown {
  let v = root;
  for (const part of path.split(".")) {
    if (typeof v !== "object" || v === null || !Object.hasOwn(v, part)) return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

/** Walks a program: each `each` block found gets its plan, by its location. */
function planBlocks(node: Node, helpers: ReadonlySet<string>, plans: Map<string, Plan>): void {
  for (const child of children(node)) {
    if (child.type === "BlockStatement") {
      const block = child as hbs.AST.BlockStatement;
      if (block.path.original === "each" && block.loc)
        plans.set(locKey(block.loc.start, block.loc.end), planOf(block, helpers));
    }
    planBlocks(child, helpers, plans);
  }
}

/** The plan of one `each` block: the parent paths its body reads, or null when it is not pure. */
function planOf(block: hbs.AST.BlockStatement, helpers: ReadonlySet<string>): Plan {
  if (block.program.blockParams !== undefined && block.program.blockParams.length > 0) return null;
  const parent = new Set<string>();
  return pure(block.program, helpers, parent) ? [...parent].sort() : null;
}

/** Whether a node's text depends on its context (and the parent paths collected) alone. */
function pure(node: Node, helpers: ReadonlySet<string>, parent: Set<string>): boolean {
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
      if (path.depth === 1) {
        if (path.parts.length === 0) return false; // `..` itself: the whole parent
        parent.add(path.parts.join("."));
      }
      return true;
    }
    case "Program":
      return (node as hbs.AST.Program).body.every((s) => pure(s, helpers, parent));
    case "MustacheStatement": {
      const m = node as hbs.AST.MustacheStatement;
      // A plain value: no helper call (and no name a helper has).
      if (m.params.length > 0 || m.hash?.pairs.length) return false;
      if (m.path.type === "PathExpression" && helpers.has((m.path as hbs.AST.PathExpression).original)) return false;
      return pure(m.path, helpers, parent);
    }
    case "BlockStatement": {
      const b = node as hbs.AST.BlockStatement;
      if (!BRANCHING.has(b.path.original) || b.params.length !== 1) return false;
      if (b.program?.blockParams?.length) return false;
      const hash = b.hash?.pairs ?? [];
      return (
        pure(b.params[0]!, helpers, parent) &&
        hash.every((p) => pure(p.value, helpers, parent)) &&
        (b.program === undefined || pure(b.program, helpers, parent)) &&
        (b.inverse === undefined || pure(b.inverse, helpers, parent))
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
