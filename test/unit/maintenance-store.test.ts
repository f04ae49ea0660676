import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import pino from "pino";
import { FileConfigStore } from "../../sidecar/apply/config-file";
import { MaintenanceStore } from "../../sidecar/maintenance/maintenance-store";
import { tempDirs } from "../support/temp-dir";

const tempDir = tempDirs("maint-");

const silent = pino({ level: "silent" });
const clock = { now: () => 1_000 };

describe("MaintenanceStore", () => {
  it("writes each change to the file and reads it back after a restart", async () => {
    const file = path.join(tempDir(), "maintenance.json");
    const store = new MaintenanceStore(new FileConfigStore(file), clock, silent);
    await store.load();
    await expect(store.set({ container: "c_1", on: true, by: "alice" })).resolves.toEqual({
      changed: true,
      entry: { container: "c_1", by: "alice", since: 1_000 },
    });
    await expect(store.set({ container: "c_1", on: true, by: "bob" })).resolves.toMatchObject({ changed: false });
    await store.set({ container: "c_2", on: true, by: "bob" });
    await store.set({ container: "c_2", on: false, by: "bob" });
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual([{ container: "c_1", by: "alice", since: 1_000 }]);
    const again = new MaintenanceStore(new FileConfigStore(file), clock, silent);
    await again.load();
    expect([...again.names()]).toEqual(["c_1"]);
  });

  it("changes nothing when the write fails", async () => {
    const failing = {
      read: async () => null,
      stage: async () => {
        throw new Error("EROFS: read-only file system");
      },
      commit: async () => undefined,
      discard: async () => undefined,
      removeStale: async () => 0,
    };
    const store = new MaintenanceStore(failing, clock, silent);
    await expect(store.set({ container: "c_1", on: true, by: "alice" })).rejects.toThrow(/EROFS/);
    expect(store.list()).toEqual([]);
    // The next request is applied still.
    await expect(store.set({ container: "c_1", on: false, by: "alice" })).resolves.toMatchObject({ changed: false });
  });

  it("keeps the good entries of a damaged file", async () => {
    const file = path.join(tempDir(), "maintenance.json");
    writeFileSync(file, JSON.stringify([{ container: "c_1", by: "alice", since: 5 }, { container: "bad name" }]));
    const store = new MaintenanceStore(new FileConfigStore(file), clock, silent);
    await store.load();
    expect(store.list()).toEqual([{ container: "c_1", by: "alice", since: 5 }]);
  });
});
