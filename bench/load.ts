/**
 * Steady load on 127.0.0.1: autocannon over keep-alive connections at a fixed rate, plus loops
 * that open a new connection per request and read which container answered (x-backend-ip).
 * Every answer is kept (time sent, time done, status, backend) for the convergence numbers and
 * the per-second timeline.
 */
import autocannon from "autocannon";
import { getOnce } from "./lib";

/** One request as the client saw it. */
export interface Sample {
  readonly sentMs: number;
  readonly doneMs: number;
  /** true: a 2xx answer. */
  readonly ok: boolean;
  /** The answering container's address (new-connection requests only), "" otherwise. */
  readonly ip: string;
  readonly kind: "keep-alive" | "new-connection";
}

export interface LoadOptions {
  readonly port: number;
  /** Keep-alive requests per second (autocannon, 8 connections). */
  readonly keepAliveRate: number;
  /** Sequential new-connection loops. */
  readonly newConnectionLoops: number;
}

export interface LoadTotals {
  readonly sent: number;
  readonly failed: number;
  readonly keepAlive: { sent: number; ok: number; errors: number; timeouts: number; non2xx: number; resets: number };
  readonly newConnection: { sent: number; ok: number; failed: number; firstFailures: readonly string[] };
}

export class Load {
  readonly samples: Sample[] = [];
  private readonly failures: string[] = [];
  private probing = true;
  private instance: autocannon.Instance | null = null;
  private done: Promise<autocannon.Result> | null = null;
  private loops: Array<Promise<void>> = [];
  private probe = { sent: 0, ok: 0, failed: 0 };

  constructor(private readonly opts: LoadOptions) {}

  start(): void {
    this.done = new Promise<autocannon.Result>((resolve, reject) => {
      this.instance = autocannon(
        {
          url: `http://127.0.0.1:${this.opts.port}/`,
          connections: 8,
          overallRate: this.opts.keepAliveRate,
          duration: 86_400,
          timeout: 10,
        },
        (err: Error | null, res) => (err ? reject(err) : resolve(res)),
      );
      // responseTime is autocannon's own measure of the request; the answer is now.
      this.instance.on("response", (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
        const doneMs = Date.now();
        this.samples.push({
          sentMs: doneMs - responseTime,
          doneMs,
          ok: statusCode >= 200 && statusCode < 300,
          ip: "",
          kind: "keep-alive",
        });
      });
    });
    this.loops = Array.from({ length: this.opts.newConnectionLoops }, () => this.newConnectionLoop());
  }

  async stop(): Promise<LoadTotals> {
    this.probing = false;
    this.instance?.stop();
    const ka = await this.done!;
    await Promise.all(this.loops);
    // autocannon's own "sent" counts each connection's first rate-window at start-up as sent;
    // count what was answered plus what failed instead.
    const kaFailed = ka.errors + ka.timeouts + ka.non2xx + ka.resets;
    const kaSent = ka["2xx"] + kaFailed;
    return {
      sent: kaSent + this.probe.sent,
      failed: kaFailed + this.probe.failed,
      keepAlive: {
        sent: kaSent,
        ok: ka["2xx"],
        errors: ka.errors,
        timeouts: ka.timeouts,
        non2xx: ka.non2xx,
        resets: ka.resets,
      },
      newConnection: { ...this.probe, firstFailures: this.failures.slice(0, 10) },
    };
  }

  private async newConnectionLoop(): Promise<void> {
    while (this.probing) {
      const sentMs = Date.now();
      this.probe.sent++;
      try {
        const r = await getOnce(this.opts.port, "/");
        const ok = r.status >= 200 && r.status < 300;
        this.samples.push({ sentMs, doneMs: Date.now(), ok, ip: r.ip, kind: "new-connection" });
        if (ok) this.probe.ok++;
        else this.fail(`HTTP ${r.status}`, sentMs);
      } catch (err) {
        this.samples.push({ sentMs, doneMs: Date.now(), ok: false, ip: "", kind: "new-connection" });
        this.fail((err as Error).message, sentMs);
      }
    }
  }

  private fail(what: string, sentMs: number): void {
    this.probe.failed++;
    this.failures.push(`${what} at ${new Date(sentMs).toISOString()}`);
  }
}
