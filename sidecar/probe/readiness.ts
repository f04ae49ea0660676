import * as net from "node:net";

/** Whether a backend accepts connections yet: the gate for containers without a HEALTHCHECK. */
export interface ReadinessProbe {
  isListening(address: string, port: number): Promise<boolean>;
}

/**
 * A TCP connect from the sidecar (which sits on the watched network). HAProxy treats a new server
 * as UP before its first check, so a container whose app has not bound its port yet would get
 * requests (and refuse them) during the first second of its life.
 */
export class TcpReadinessProbe implements ReadinessProbe {
  constructor(private readonly timeoutMs = 500) {}

  isListening(address: string, port: number): Promise<boolean> {
    return new Promise((resolve) => {
      const sock = net.connect({ host: address, port });
      const done = (ok: boolean): void => {
        sock.destroy();
        resolve(ok);
      };
      sock.setTimeout(this.timeoutMs, () => done(false));
      sock.once("connect", () => done(true));
      sock.once("error", () => done(false));
    });
  }
}

/** No gate: every candidate counts as ready (LB_READINESS=none). */
export class AlwaysReady implements ReadinessProbe {
  isListening(): Promise<boolean> {
    return Promise.resolve(true);
  }
}
