import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { BACKGROUND_NICENESS, HaproxyCheckValidator } from "../../sidecar/apply/haproxy-check";

/**
 * The checker's CPU priority, through a real child process: a stand-in for `haproxy` that waits
 * for the test to let it go (by then the validator has set its priority, or not), then refuses
 * the config with its niceness as HAProxy's ALERT. The waiting makes the order certain.
 */
describe("HaproxyCheckValidator: a background check yields the CPU", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "hs-check-"));
  const bin = path.join(dir, "haproxy");
  const go = path.join(dir, "go");
  writeFileSync(
    bin,
    `#!/bin/sh\nwhile [ ! -e ${go} ]; do sleep 0.01; done\necho "[ALERT] niceness $(nice)" >&2\nexit 1\n`,
  );
  chmodSync(bin, 0o755);
  const validator = new HaproxyCheckValidator(bin, 10_000);
  afterEach(() => rmSync(go, { force: true }));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const nicenessOf = async (background: boolean): Promise<number> => {
    const verdict = validator.validate(path.join(dir, "haproxy.cfg"), background ? { background } : {});
    expect(existsSync(go)).toBe(false);
    writeFileSync(go, "");
    const v = await verdict;
    if (v.ok) throw new Error("the stand-in refuses every config");
    return Number(/niceness (-?\d+)/.exec(v.message)![1]);
  };

  it("runs a check on the way of an apply (a reload waits for it) at the sidecar's own priority", async () => {
    await expect(nicenessOf(false)).resolves.toBe(os.getPriority());
  });

  it("runs the check of a file that follows a runtime apply nicer by BACKGROUND_NICENESS (at most 19)", async () => {
    await expect(nicenessOf(true)).resolves.toBe(Math.min(19, os.getPriority() + BACKGROUND_NICENESS));
  });
});
