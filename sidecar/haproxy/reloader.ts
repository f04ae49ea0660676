/** Asks the HAProxy master for a soft reload. */
export interface Reloader {
  /** `no-target` when no HAProxy of this stack runs (it reads the file when it starts). */
  reload(): Promise<"sent" | "no-target">;
}
