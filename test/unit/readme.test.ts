import { readFileSync } from "node:fs";
import * as path from "node:path";
import { SETTINGS } from "../../sidecar/config";

describe("README", () => {
  const readme = readFileSync(path.resolve(__dirname, "../../README.md"), "utf8");

  it.each(Object.entries(SETTINGS))("documents %s with its default", (name, { def }) => {
    expect(readme).toContain(`| \`${name}\` | \`${def}\` |`);
  });

  it("shows the two commands", () => {
    expect(readme).toContain("make up");
    expect(readme).toContain("make test");
  });
});
