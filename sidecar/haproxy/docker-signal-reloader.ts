import type Docker from "dockerode";
import type { Reloader } from "./reloader";

/** Finds the HAProxy container by label and sends its master SIGUSR2 through the Docker API. */
export class DockerSignalReloader implements Reloader {
  constructor(
    private readonly docker: Docker,
    private readonly selector: { readonly key: string; readonly value: string },
  ) {}

  async reload(): Promise<"sent" | "no-target"> {
    const found = await this.docker.listContainers({
      filters: { label: [`${this.selector.key}=${this.selector.value}`], status: ["running"] },
    });
    if (found.length === 0) return "no-target";
    for (const c of found) await this.docker.getContainer(c.Id).kill({ signal: "SIGUSR2" });
    return "sent";
  }
}
