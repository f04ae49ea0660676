import { parseLbLabels } from "../../sidecar/model/labels";

describe("parseLbLabels", () => {
  it.each([
    [{}, { enabled: false, port: 3000, backend: null, weight: null, sticky: false, slowstartMs: null, drainMs: null }],
    [
      { "heig.lb.enable": "true" },
      { enabled: true, port: 3000, backend: null, weight: null, sticky: false, slowstartMs: null, drainMs: null },
    ],
    [
      { "heig.lb.enable": "false" },
      { enabled: false, port: 3000, backend: null, weight: null, sticky: false, slowstartMs: null, drainMs: null },
    ],
    [
      { "heig.lb.enable": "true", "heig.lb.port": "8080", "heig.lb.backend": "api.v2", "heig.lb.weight": "0" },
      { enabled: true, port: 8080, backend: "api.v2", weight: 0, sticky: false, slowstartMs: null, drainMs: null },
    ],
    [
      { "heig.lb.enable": "true", "heig.lb.weight": "256", "heig.lb.port": "65535" },
      { enabled: true, port: 65535, backend: null, weight: 256, sticky: false, slowstartMs: null, drainMs: null },
    ],
  ])("accepts %j", (labels, expected) => {
    expect(parseLbLabels(labels, "heig.lb")).toEqual({ ok: true, value: expected });
  });

  it.each([
    ["heig.lb.enable", "yes"],
    ["heig.lb.enable", "TRUE"],
    ["heig.lb.port", "0"],
    ["heig.lb.port", "65536"],
    ["heig.lb.port", "80 "],
    ["heig.lb.port", "3000\n    server evil 10.0.0.1:80"],
    ["heig.lb.port", "-1"],
    ["heig.lb.weight", "257"],
    ["heig.lb.sticky", "yes"],
    ["heig.lb.weight", "1 # comment"],
    ["heig.lb.weight", "1.5"],
    ["heig.lb.backend", "web app"],
    ["heig.lb.backend", "webapp\nbackend evil"],
    ["heig.lb.backend", "x#y"],
    ["heig.lb.backend", '"quoted"'],
    ["heig.lb.backend", "wébapp"],
    ["heig.lb.backend", "-leading-dash"],
    ["heig.lb.backend", ""],
    ["heig.lb.backend", "a".repeat(64)],
    ["heig.lb.slowstart", "30"],
    ["heig.lb.slowstart", "1.5s"],
    ["heig.lb.slowstart", "2h"],
    ["heig.lb.slowstart", "61m"],
    ["heig.lb.slowstart", "30 s"],
    ["heig.lb.slowstart", "-1s"],
    ["heig.lb.drain", "30S"],
    ["heig.lb.drain", "3601s"],
    ["heig.lb.drain", "10s\n    server evil 10.0.0.1:80"],
    ["heig.lb.drain", ""],
  ])("rejects %s=%j, naming the label", (label, value) => {
    const result = parseLbLabels({ "heig.lb.enable": "true", [label]: value }, "heig.lb");
    expect(result).toEqual({ ok: false, label, detail: expect.any(String) });
  });

  it("reads stickiness", () => {
    expect(parseLbLabels({ "heig.lb.enable": "true", "heig.lb.sticky": "true" }, "heig.lb")).toEqual({
      ok: true,
      value: { enabled: true, port: 3000, backend: null, weight: null, sticky: true, slowstartMs: null, drainMs: null },
    });
  });

  it("reads labels under another prefix", () => {
    expect(parseLbLabels({ "acme.lb.enable": "true", "acme.lb.port": "81" }, "acme.lb")).toEqual({
      ok: true,
      value: { enabled: true, port: 81, backend: null, weight: null, sticky: false, slowstartMs: null, drainMs: null },
    });
  });

  it.each([
    ["500ms", 500],
    ["30s", 30_000],
    ["2m", 120_000],
    ["1h", 3_600_000],
    ["3600000ms", 3_600_000],
    ["0s", 0],
  ])("reads the duration %s as %d ms", (raw, ms) => {
    const labels = { "heig.lb.enable": "true", "heig.lb.slowstart": raw, "heig.lb.drain": raw };
    expect(parseLbLabels(labels, "heig.lb")).toEqual({
      ok: true,
      // slowstart 0 is no slow start at all; a drain of 0 shuts the connections at once.
      value: expect.objectContaining({ slowstartMs: ms === 0 ? null : ms, drainMs: ms }),
    });
  });

  it("names the label and says what a duration looks like", () => {
    expect(parseLbLabels({ "heig.lb.enable": "true", "heig.lb.drain": "forever" }, "heig.lb")).toEqual({
      ok: false,
      label: "heig.lb.drain",
      detail: "must be a duration such as 500ms, 30s or 2m, at most 1h",
    });
  });
});
