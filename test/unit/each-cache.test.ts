/** The caching `each` (render/each-cache.ts): what it renders is what Handlebars' own `each` renders, always. */
import fc from "fast-check";
import Handlebars from "handlebars";
import { cacheEachItems } from "../../sidecar/render/each-cache";

/** A template compiled twice: with the caching `each` (and its call after each render), and plain. */
function both(source: string): { cached: (ctx: unknown) => string; plain: (ctx: unknown) => string } {
  const hb = Handlebars.create();
  const rendered = cacheEachItems(hb, source);
  const template = hb.compile(source, { strict: true, noEscape: true });
  const plain = Handlebars.create().compile(source, { strict: true, noEscape: true });
  return {
    cached: (ctx) => {
      try {
        return template(ctx);
      } finally {
        rendered();
      }
    },
    plain: (ctx) => plain(ctx),
  };
}

const TEMPLATES = [
  // Pure: the item's fields and the parent's, `if` and `unless` (this is the shape of a server line).
  "{{#each groups}}[{{name}}]{{#each items}} {{n}}{{#if ../flag}}!{{/if}}{{#if w includeZero=true}} w{{w}}{{/if}}{{#unless on}} off{{else}} on{{/unless}}\n{{/each}}{{/each}}",
  // Not pure: the index, the first and last, the grandparent, a block parameter, a nested each, a helper, with.
  "{{#each groups}}{{#each items}}{{@index}}{{#if @first}}F{{/if}}{{#if @last}}L{{/if}}:{{n}} {{/each}}{{/each}}",
  "{{#each groups}}{{#each items}}{{../../title}}{{n}} {{/each}}{{/each}}",
  "{{#each groups}}{{#each items as |it i|}}{{i}}={{it.n}} {{/each}}{{/each}}",
  "{{#each groups}}{{#each items}}({{#each ../items}}{{n}}{{/each}}){{/each}}{{/each}}",
  "{{#each groups}}{{#each items}}{{lookup ../names n}} {{/each}}{{/each}}",
  "{{#each groups}}{{#each items}}{{#with this}}{{n}}{{/with}} {{/each}}{{/each}}",
  "{{#each groups}}{{#each items}}{{n}}{{else}}none{{/each}}|{{/each}}",
];

const item = fc.record({
  n: fc.integer({ min: 0, max: 3 }),
  w: fc.option(fc.integer({ min: 0, max: 2 })),
  on: fc.boolean(),
});
const context = fc.record({
  title: fc.constantFrom("t1", "t2"),
  groups: fc.array(
    fc.record({
      name: fc.constantFrom("a", "b"),
      flag: fc.boolean(),
      names: fc.constant(["zero", "one", "two", "three"]),
      items: fc.array(item, { maxLength: 5 }),
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
          for (const ctx of contexts) expect(t.cached(ctx)).toBe(t.plain(ctx));
        }),
        { numRuns: 60 },
      );
    },
  );

  it("renders an item seen before from memory, and a new item or a changed parent afresh", () => {
    const t = both("{{#each items}}{{n}}{{#if ../flag}}!{{/if}} {{/each}}");
    // toJSON hides `n` from the cache's key: an item that renders from memory shows its old text.
    const hidden = (n: number): { n: number; toJSON: () => string } => ({ n, toJSON: () => "same" });
    expect(t.cached({ flag: false, items: [hidden(1)] })).toBe("1 ");
    expect(t.cached({ flag: false, items: [hidden(2)] })).toBe("1 ");
    expect(t.cached({ flag: true, items: [hidden(2)] })).toBe("2! ");
    expect(t.cached({ flag: false, items: [{ n: 3 }] })).toBe("3 ");
  });

  it("leaves a block that reads anything but its item and its parent to Handlebars' each", () => {
    const t = both("{{#each items}}{{@index}}:{{n}} {{/each}}");
    const items = [{ n: 7 }, { n: 7 }];
    expect(t.cached({ items })).toBe("0:7 1:7 ");
    expect(t.cached({ items: [...items].reverse() })).toBe("0:7 1:7 ");
    // Blocks other than `if` and `unless`, and helpers: not known to be pure, rendered afresh.
    const hidden = (n: number): { n: number; toJSON: () => string } => ({ n, toJSON: () => "same" });
    for (const body of ["{{#with this}}{{n}}{{/with}}", "{{#each ../items}}{{/each}}{{n}}", "{{lookup this 'n'}}"]) {
      const other = both(`{{#each items}}${body} {{/each}}`);
      expect(other.cached({ items: [hidden(1)] })).toBe("1 ");
      expect(other.cached({ items: [hidden(2)] })).toBe("2 ");
    }
  });

  it("forgets what recent renders did not use, and renders it again when it comes back", () => {
    const t = both("{{#each items}}{{n}} {{/each}}");
    const hidden = (n: number): { n: number; toJSON: () => string } => ({ n, toJSON: () => "k" });
    expect(t.cached({ items: [hidden(1)] })).toBe("1 ");
    for (let i = 0; i < 32; i++) t.cached({ items: [{ n: i }] });
    expect(t.cached({ items: [hidden(2)] })).toBe("2 ");
  });
});
