import { execFile } from "node:child_process";
import * as os from "node:os";
import { toError } from "../lib/errors";

export type ValidationResult = { readonly ok: true } | { readonly ok: false; readonly message: string };

export interface ValidateOptions {
  /**
   * Off the critical path (the file that follows a runtime apply: HAProxy already runs the
   * change): the check yields the CPU to what is on it (the next pass, HAProxy itself).
   */
  readonly background?: boolean;
}

/** Checks a config file before it may replace the live one. */
export interface Validator {
  validate(configPath: string, opts?: ValidateOptions): Promise<ValidationResult>;
}

/**
 * How much nicer than the sidecar a background check runs. At a thousand servers `haproxy -c`
 * is ~25 ms of CPU after every change, on the cores the next change's pass needs.
 */
export const BACKGROUND_NICENESS = 10;

/** `haproxy -c -f FILE` with the same HAProxy version as the `ha` container. */
export class HaproxyCheckValidator implements Validator {
  constructor(
    private readonly haproxyBin: string,
    private readonly timeoutMs = 30_000,
  ) {}

  validate(configPath: string, opts: ValidateOptions = {}): Promise<ValidationResult> {
    return new Promise((resolve, reject) => {
      const child = execFile(
        this.haproxyBin,
        ["-c", "-f", configPath],
        { timeout: this.timeoutMs },
        (err, stdout, stderr) => {
          if (err === null) return resolve({ ok: true });
          // Not being able to run the checker is our fault, not the config's: retry, never reject.
          if (err.code === "ENOENT" || err.code === "EACCES" || err.killed) return reject(toError(err));
          // HAProxy's own words: its ALERT lines say what and where (file:line).
          const lines = `${stderr}${stdout}`
            .split("\n")
            .map((l) => l.trim())
            .filter(Boolean);
          const alerts = lines.filter((l) => l.includes("[ALERT]"));
          const message = (alerts.length > 0 ? alerts : lines).join("\n") || String(err.message);
          resolve({ ok: false, message });
        },
      );
      if (opts.background === true && child.pid !== undefined) lowerPriority(child.pid);
    });
  }
}

/**
 * Lowers a child's CPU priority (raising its niceness needs no privilege). It may already have
 * ended, or the setting be refused: it then runs at the sidecar's, as it would have.
 */
function lowerPriority(pid: number): void {
  try {
    os.setPriority(pid, Math.min(19, os.getPriority() + BACKGROUND_NICENESS));
  } catch {
    // Gone already, or not allowed: nothing lost but the courtesy.
  }
}
