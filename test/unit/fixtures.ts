import type { BackendSnapshot } from "../../sidecar/model/types";

/** A running, labelled compose container on the watched network; override what the case is about. */
export function snap(
  name: string,
  over: Partial<BackendSnapshot> & { extraLabels?: Record<string, string> } = {},
): BackendSnapshot {
  const { extraLabels, ...rest } = over;
  const n = Number(/(\d+)$/.exec(name)?.[1] ?? 9);
  return {
    id: `${name.replace(/[^a-z0-9]/gi, "")}${"0".repeat(64)}`.slice(0, 64),
    name,
    group: "webapp",
    running: true,
    paused: false,
    health: "none",
    address: `172.18.0.${n + 10}`,
    leaving: false,
    oneOff: false,
    labels: { "heig.lb.enable": "true", ...extraLabels },
    ...rest,
  };
}
