import { isolateRejected, withMembers } from "../../sidecar/reconcile/isolate";
import type { DesiredState } from "../../sidecar/model/types";

const server = (id: string, weight: number | null = null) => ({
  name: id,
  sourceId: id,
  address: `10.0.0.${id.length}`,
  port: 3000,
  weight,
});
const state = (webapp: string[], api: string[] = []): DesiredState => ({
  defaultService: "webapp",
  services: [
    ...(api.length > 0 ? [{ name: "api", sticky: false, servers: api.map((id) => server(id)) }] : []),
    { name: "webapp", sticky: false, servers: webapp.map((id) => server(id)) },
  ],
});
/** A "haproxy -c" that refuses any state listing one of `poison`, and counts its checks. */
const checker = (poison: string[], brokenTemplate = false) => {
  const calls: string[][] = [];
  const check = async (s: DesiredState): Promise<boolean> => {
    const ids = s.services.flatMap((x) => x.servers.map((b) => b.sourceId));
    calls.push(ids);
    return !brokenTemplate && !ids.some((id) => poison.includes(id));
  };
  return { calls, check };
};

describe("isolateRejected", () => {
  it("finds the one new member whose line is refused, and keeps the others", async () => {
    const { check, calls } = checker(["p"]);
    const next = state(["a", "b", "c", "d", "e", "f", "g", "p"]);
    await expect(isolateRejected(next, state(["a", "b"]), check)).resolves.toEqual(["p"]);
    expect(calls.length).toBeLessThanOrEqual(2 + 2 * Math.ceil(Math.log2(6)) + 1);
  });

  it("finds several culprits", async () => {
    const { check } = checker(["p", "q"]);
    await expect(isolateRejected(state(["a", "p", "b", "q", "c"]), null, check)).resolves.toEqual(["p", "q"]);
  });

  it("suspects only what changed since the last accepted state", async () => {
    const { check, calls } = checker(["x"]);
    // x was accepted before: it is in the base, the base fails, so the fault is not a member's.
    await expect(isolateRejected(state(["x", "n"]), state(["x"]), check)).resolves.toBeNull();
    expect(calls).toEqual([["x"]]);
  });

  it("gives up (null) when even the base is refused: the template is at fault", async () => {
    const { check } = checker([], true);
    await expect(isolateRejected(state(["a", "n"]), state(["a"]), check)).resolves.toBeNull();
  });

  it("treats a member of a new backend like any suspect", async () => {
    const { check } = checker(["z"]);
    await expect(isolateRejected(state(["a"], ["y", "z"]), state(["a"]), check)).resolves.toEqual(["z"]);
  });
});

describe("withMembers", () => {
  it("keeps known and default backends even empty, drops new ones left empty", () => {
    const s = withMembers(state(["a", "b"], ["y"]), new Set(["a"]), state(["a"]));
    expect(s.services.map((x) => [x.name, x.servers.map((b) => b.name)])).toEqual([["webapp", ["a"]]]);
  });
});
