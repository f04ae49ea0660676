import * as net from "node:net";

/**
 * A TCP listener on 127.0.0.1 that relays each connection to a unix socket (the Docker API), and
 * that a test can cut (every open connection reset) or freeze (connections accepted, never
 * answered): a dockerd that restarts or hangs, without touching the real one.
 */
export class TcpRelay {
  private readonly server: net.Server;
  private readonly open = new Set<net.Socket>();
  private mode: "relay" | "freeze" = "relay";
  port = 0;

  constructor(private readonly socketPath: string) {
    this.server = net.createServer((client) => {
      this.open.add(client);
      client.on("close", () => this.open.delete(client));
      client.on("error", () => undefined);
      if (this.mode === "freeze") return; // accepted, never answered
      const upstream = net.connect({ path: this.socketPath });
      this.open.add(upstream);
      upstream.on("close", () => {
        this.open.delete(upstream);
        client.destroy();
      });
      upstream.on("error", () => client.destroy());
      client.on("close", () => upstream.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  /** Resets every open connection; new ones are relayed again. */
  cut(): void {
    for (const s of this.open) s.destroy();
  }

  /** From now on, connections are accepted and never answered (and the open ones are cut). */
  freeze(): void {
    this.mode = "freeze";
    this.cut();
  }

  thaw(): void {
    this.mode = "relay";
    for (const s of this.open) s.destroy();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
