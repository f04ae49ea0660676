import { LineSplitter } from "../../sidecar/lib/json-lines";

describe("LineSplitter", () => {
  const split = (chunks: Buffer[], max = 16): { lines: string[]; oversized: number[] } => {
    const lines: string[] = [];
    const oversized: number[] = [];
    const splitter = new LineSplitter(
      max,
      (l) => lines.push(l.toString("utf8")),
      (n) => oversized.push(n),
    );
    for (const c of chunks) splitter.push(c);
    return { lines, oversized };
  };
  const b = (s: string): Buffer => Buffer.from(s, "utf8");

  it.each<[string, Buffer[], string[], number[]]>([
    ["lines in one chunk", [b("a\nb\n")], ["a", "b"], []],
    ["a line across chunks", [b("ab"), b("c\nd"), b("\n")], ["abc", "d"], []],
    ["a character cut between chunks", [b("é\n").subarray(0, 1), b("é\n").subarray(1)], ["é"], []],
    ["empty lines", [b("\n\na\n")], ["a"], []],
    ["an unfinished last line", [b("a\nbc")], ["a"], []],
    ["a line too long, in one chunk", [b(`${"x".repeat(20)}\nok\n`)], ["ok"], [20]],
    [
      "a line too long, across chunks",
      [b("x".repeat(10)), b("x".repeat(10)), b("x".repeat(10)), b("\nok\n")],
      ["ok"],
      [20],
    ],
    ["exactly the limit", [b(`${"x".repeat(16)}\n`)], ["x".repeat(16)], []],
  ])("%s", (_, chunks, lines, oversized) => {
    expect(split(chunks)).toEqual({ lines, oversized });
  });
  it("keeps a UTF-8 character cut between two chunks", () => {
    const lines: string[] = [];
    const splitter = new LineSplitter(1 << 20, (l) => lines.push(l.toString("utf8")));
    const bytes = Buffer.from('{"name":"w\u00e9bapp"}\n');
    const cut = bytes.indexOf(0xc3) + 1;
    splitter.push(bytes.subarray(0, cut));
    splitter.push(bytes.subarray(cut));
    expect(lines).toEqual(['{"name":"w\u00e9bapp"}']);
  });
});
