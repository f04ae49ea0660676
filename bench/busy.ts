/**
 * A busy machine, on demand: what other work does to a real host (builds, another process's
 * load test). CPU hogs (one more than the cores, at normal priority) and a disk writer that
 * fsyncs, started and stopped by the benchmark. Results under it are reported beside the idle ones.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as os from "node:os";
import * as path from "node:path";

export class Busy {
  private readonly children: ChildProcess[] = [];

  /** Starts the hogs: `cpus` busy loops (default: cores + 1) and one fsyncing writer in `dir`. */
  start(dir: string, cpus = os.cpus().length + 1): void {
    for (let i = 0; i < cpus; i++)
      this.children.push(spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" }));
    const file = path.join(dir, "busy-disk.bin");
    this.children.push(
      spawn(
        "bash",
        ["-c", `while :; do dd if=/dev/zero of=${file} bs=1M count=256 conv=fsync status=none; rm -f ${file}; done`],
        { stdio: "ignore", detached: true },
      ),
    );
  }

  /** Stops every hog (the writer with its dd). */
  stop(): void {
    for (const c of this.children.splice(0)) {
      try {
        if (c.spawnargs[0] === "bash" && c.pid !== undefined) process.kill(-c.pid, "SIGKILL");
        else c.kill("SIGKILL");
      } catch {
        /* already gone */
      }
    }
  }
}
