/** The caching `each` (render/each-cache.ts): what it renders is what Handlebars' own `each` renders, always. */
import fc from "fast-check";
import Handlebars from "handlebars";
import { cacheEachItems, type EachCache } from "../../sidecar/render/each-cache";

/** A template compiled twice: with the caching `each` (and its call after each render), and plain. */
function both(source: string): { cached: (ctx: unknown) => string; plain: (ctx: unknown) => string; cache: EachCache } {
  const hb = Handlebars.create();
  const cache = cacheEachItems(hb, source);
  const template = hb.compile(source, { strict: true, noEscape: true });
  const plain = Handlebars.create().compile(source, { strict: true, noEscape: true });
  return {
    cached: (ctx) => {
      try {
        return template(ctx);
      } finally {
        cache.rendered();
      }
    },
    plain: (ctx) => plain(ctx),
    cache,
  };
}

/** A render's text, or the error it threw. */
function outcome(render: () => string): { text: string } | { error: string } {
  try {
    return { text: render() };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

const TEMPLATES = [
  // Pure: the item's fields and the parent's, `if` and `unless` (this is the shape of a server line).
  "{{#each groups}}[{{name}}]{{#each items}} {{n}}{{#if ../flag}}!{{/if}}{{#if w includeZero=true}} w{{w}}{{/if}}{{#unless on}} off{{else}} on{{/unless}}\n{{/each}}{{/each}}",
  "{{#each groups}}{{#each items}}{{../[a.b]}}{{n}} {{/each}}{{/each}}",
  // Not pure: the index, the first and last, the grandparent, a block parameter, a nested each, a helper, with.
  "{{#each groups}}{{#each items}}{{@index}}{{#if @first}}F{{/if}}{{#if @last}}L{{/if}}:{{n}} {{/each}}{{/each}}",
  "{{#each groups}}{{#each items}}{{../../title}}{{n}} {{/each}}{{/each}}",
  "{{#each groups}}{{#each items as |it i|}}{{i}}={{it.n}} {{/each}}{{/each}}",
  "{{#each groups}}{{#each items}}({{#each ../items}}{{n}}{{/each}}){{/each}}{{/each}}",
  "{{#each groups}}{{#each items}}{{lookup ../names n}} {{/each}}{{/each}}",
  "{{#each groups}}{{#each items}}{{#with this}}{{n}}{{/with}} {{/each}}{{/each}}",
  // An enclosing block's parameter, a parent's field of a field, an else, an inverted each.
  "{{#each groups as |g|}}{{#each items}}{{n}}{{#if g.flag}}!{{/if}} {{/each}}{{/each}}",
  "{{#each groups}}{{#each items}}{{#if ../name.length}}L{{/if}}{{n}} {{/each}}{{/each}}",
  "{{#each groups}}{{#each items}}{{n}}{{else}}none{{/each}}|{{/each}}",
  "{{#each groups}}{{^each items}}none{{/each}}{{/each}}",
];

const item = fc.oneof(
  fc.record({
    n: fc.integer({ min: 0, max: 3 }),
    w: fc.oneof(fc.integer({ min: 0, max: 2 }), fc.constantFrom(null, Number.NaN, undefined)),
    on: fc.boolean(),
  }),
  // Items whose JSON is not all they are, or that lack a field strict mode asks for.
  fc.constantFrom({ n: Number.NaN, w: 1, on: true }, { n: 1, w: 1, on: true, at: new Date(0) }, { w: 1, on: false }),
);
const context = fc.record({
  title: fc.constantFrom("t1", "t2"),
  groups: fc.array(
    fc.record({
      name: fc.constantFrom("a", "b", ""),
      "a.b": fc.constantFrom("x", "y"),
      flag: fc.boolean(),
      names: fc.constant(["zero", "one", "two", "three"]),
      items: fc.oneof(fc.array(item, { maxLength: 5 }), fc.sparseArray(item, { maxLength: 5 })),
    }),
    { maxLength: 3 },
  ),
});

describe("the caching each", () => {
  it.each(TEMPLATES.map((t, i) => [i, t]))(
    "renders what Handlebars' each renders, render after render (template %i)",
    (_, source) => {
      const t = both(source);
      fc.assert(
        fc.property(fc.array(context, { minLength: 1, maxLength: 25 }), (contexts) => {
          for (const ctx of contexts) expect(outcome(() => t.cached(ctx))).toEqual(outcome(() => t.plain(ctx)));
        }),
        { numRuns: 60 },
      );
    },
  );

  it("renders an item seen before from memory, and a new item, a changed one or a changed parent afresh", () => {
    const t = both("{{#each items}}{{n}}{{#if ../flag}}!{{/if}} {{/each}}");
    expect(t.cached({ flag: false, items: [{ n: 1 }, { n: 2 }] })).toBe("1 2 ");
    expect(t.cache.counts()).toEqual({ hits: 0, misses: 2 });
    expect(t.cached({ flag: false, items: [{ n: 2 }, { n: 3 }] })).toBe("2 3 ");
    expect(t.cache.counts()).toEqual({ hits: 1, misses: 3 });
    expect(t.cached({ flag: true, items: [{ n: 2 }] })).toBe("2! ");
    expect(t.cache.counts()).toEqual({ hits: 1, misses: 4 });
  });

  it("leaves a block that reads anything but its item and its parent's fields to Handlebars' each", () => {
    for (const body of [
      "{{@index}}:{{n}}",
      "{{#with this}}{{n}}{{/with}}",
      "{{#each ../items}}{{@index}}{{/each}}{{n}}",
      "{{lookup this 'n'}}",
      "{{../../n}}",
      "{{#if ../a.b}}{{/if}}",
      '{{log n level="debug"}}',
      "{{> p}}",
    ]) {
      const t = both(`{{#each items}}${body} {{/each}}`);
      outcome(() => t.cached({ items: [{ n: 1 }, { n: 1 }] }));
      expect({ body, ...t.cache.counts() }).toEqual({ body, hits: 0, misses: 0 });
    }
    const nested = both("{{#each groups as |g|}}{{#each items}}{{#if g}}{{n}}{{/if}}{{/each}}{{/each}}");
    nested.cached({ groups: [{ items: [{ n: 1 }, { n: 1 }] }] });
    expect(nested.cache.counts()).toEqual({ hits: 0, misses: 0 });
  });

  it("renders items and parent fields that JSON does not tell apart afresh", () => {
    const t = both("{{#each items}}{{n}}{{../p}} {{/each}}");
    t.cached({ p: 1, items: [{ n: Number.NaN }, { n: new Date(0) }, { n: { deep: 1 } }, Object.create({ n: 1 })] });
    expect(t.cache.counts()).toEqual({ hits: 0, misses: 0 });
    t.cached({ p: Number.NaN, items: [{ n: 1 }] });
    expect(t.cache.counts()).toEqual({ hits: 0, misses: 0 });
    // The same with what JSON tells apart: remembered.
    t.cached({ p: 1, items: [{ n: 1 }, { n: null }] });
    expect(t.cache.counts()).toEqual({ hits: 0, misses: 2 });
  });

  it("compiles what Handlebars compiles, and fails as it fails", () => {
    const inverted = both("{{^each items}}none{{/each}}");
    expect(inverted.cached({ items: [] })).toBe("none");
    expect(inverted.cached({ items: [1] })).toBe("");
    const bare = both("{{#each}}x{{/each}}");
    expect(outcome(() => bare.cached({}))).toEqual(outcome(() => bare.plain({})));
    expect(outcome(() => bare.cached({}))).toEqual({ error: expect.stringContaining("Must pass iterator") });
  });

  it("forgets what recent renders did not use, and renders it again when it comes back", () => {
    const t = both("{{#each items}}{{n}} {{/each}}");
    t.cached({ items: [{ n: -1 }] });
    for (let i = 0; i < 32; i++) t.cached({ items: [{ n: i }] });
    const before = t.cache.counts();
    expect(t.cached({ items: [{ n: -1 }, { n: 31 }] })).toBe("-1 31 ");
    expect(t.cache.counts()).toEqual({ hits: before.hits + 1, misses: before.misses + 1 });
  });
});
