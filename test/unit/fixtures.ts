import type { ContainerSnapshot } from "../../sidecar/model/types";

/** A running, labelled container on the watched network; override what the case is about. */
export function snap(name: string, over: Partial<ContainerSnapshot> & { extraLabels?: Record<string, string> } = {}): ContainerSnapshot {
  const { extraLabels, ...rest } = over;
  const n = Number(/(\d+)$/.exec(name)?.[1] ?? 9);
  return {
    id: `${name.replace(/[^a-z0-9]/gi, "")}${"0".repeat(64)}`.slice(0, 64),
    name,
    running: true,
    paused: false,
    health: "none",
    ip: `172.18.0.${n + 10}`,
    labels: { "heig.lb.enable": "true", "com.docker.compose.service": "webapp", ...extraLabels },
    ...rest,
  };
}
