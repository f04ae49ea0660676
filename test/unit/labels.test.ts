import { parseLbLabels } from "../../sidecar/model/labels";

describe("parseLbLabels", () => {
  it.each([
    [{}, { enabled: false, port: 3000, backend: null, weight: null, sticky: false }],
    [{ "heig.lb.enable": "true" }, { enabled: true, port: 3000, backend: null, weight: null, sticky: false }],
    [{ "heig.lb.enable": "false" }, { enabled: false, port: 3000, backend: null, weight: null, sticky: false }],
    [
      { "heig.lb.enable": "true", "heig.lb.port": "8080", "heig.lb.backend": "api.v2", "heig.lb.weight": "0" },
      { enabled: true, port: 8080, backend: "api.v2", weight: 0, sticky: false },
    ],
    [
      { "heig.lb.enable": "true", "heig.lb.weight": "256", "heig.lb.port": "65535" },
      { enabled: true, port: 65535, backend: null, weight: 256, sticky: false },
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
  ])("rejects %s=%j, naming the label", (label, value) => {
    const result = parseLbLabels({ "heig.lb.enable": "true", [label]: value }, "heig.lb");
    expect(result).toEqual({ ok: false, label, detail: expect.any(String) });
  });

  it("reads stickiness", () => {
    expect(parseLbLabels({ "heig.lb.enable": "true", "heig.lb.sticky": "true" }, "heig.lb")).toEqual({
      ok: true,
      value: { enabled: true, port: 3000, backend: null, weight: null, sticky: true },
    });
  });

  it("reads labels under another prefix", () => {
    expect(parseLbLabels({ "acme.lb.enable": "true", "acme.lb.port": "81" }, "acme.lb")).toEqual({
      ok: true,
      value: { enabled: true, port: 81, backend: null, weight: null, sticky: false },
    });
  });
});
