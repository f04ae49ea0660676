import { execFile } from "node:child_process";
import { toError } from "../lib/errors";

export type ValidationResult = { readonly ok: true } | { readonly ok: false; readonly message: string };

/** Checks a config file before it may replace the live one. */
export interface Validator {
  validate(configPath: string): Promise<ValidationResult>;
}

/** `haproxy -c -f FILE` with the same HAProxy version as the `ha` container. */
export class HaproxyCheckValidator implements Validator {
  constructor(
    private readonly haproxyBin: string,
    private readonly timeoutMs = 30_000,
  ) {}

  validate(configPath: string): Promise<ValidationResult> {
    return new Promise((resolve, reject) => {
      execFile(this.haproxyBin, ["-c", "-f", configPath], { timeout: this.timeoutMs }, (err, stdout, stderr) => {
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
      });
    });
  }
}
