// The esbuild options of the bundles the images run: scripts/bundle.mjs builds with them, and
// test/unit/bundle.test.ts checks what they build.

// One-byte source: a single character above U+00FF anywhere in a file makes V8 hold the whole
// source as a two-byte string (twice the memory, for as long as the process runs). esbuild's
// `ascii` charset escapes strings, templates and names; the comments it keeps and regular
// expressions it copies as written, so the unit test checks the files themselves.
const node20 = {
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  charset: "ascii",
  logLevel: "warning",
};

// What dockerode and docker-modem load at start for transports the sidecar never uses (it speaks
// to Docker over unix:// or tcp:// only; config.ts refuses anything else): ssh2 alone reserves
// 16 MiB of WebAssembly memory, and with gRPC and protobufjs they were 66 of the 91 runtime
// packages. Each package is replaced by a stub that costs nothing to load and throws an Error
// naming the transport as soon as it is used.
const UNUSED = {
  ssh2: "Docker over ssh:// (docker-modem's ssh transport, package ssh2)",
  "@grpc/grpc-js": "BuildKit sessions (dockerode's gRPC, package @grpc/grpc-js)",
  "@grpc/proto-loader": "BuildKit sessions (dockerode's gRPC, package @grpc/proto-loader)",
  protobufjs: "BuildKit build progress (dockerode's decoding, package protobufjs)",
};

// Optional packages left out as if not installed (an empty module): handlebars' compiler
// requires source-map in a try/catch, only to map templates compiled to JavaScript, and builds
// the same code with a plain-string SourceNode of its own when it is absent (code-gen.js).
const ABSENT = ["source-map"];

const stubSource = (what) => `"use strict";
const message = ${JSON.stringify(
  `ha-sidecar: ${what} is not in this bundle (scripts/bundle-options.js left it out: ` +
    "the sidecar talks to Docker over unix:// or tcp:// only)",
)};
const fail = () => {
  throw new Error(message);
};
// Any property read gives the stub again (docker-modem reads require("ssh2").Client at load);
// calling or constructing it throws.
const stub = new Proxy(function unusedTransport() {}, {
  get: (_target, key) => (key === "__esModule" ? undefined : stub),
  apply: fail,
  construct: fail,
});
module.exports = stub;
`;

/** esbuild plugin: the packages of UNUSED resolve to their stubs, those of ABSENT to nothing. */
const unusedTransports = {
  name: "unused-transports",
  setup(build) {
    const names = Object.keys(UNUSED);
    build.onResolve({ filter: /^source-map$/ }, (args) =>
      ABSENT.includes(args.path) ? { path: args.path, namespace: "absent" } : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: "absent" }, () => ({ contents: "module.exports = {};", loader: "js" }));
    build.onResolve({ filter: /^(ssh2|@grpc\/grpc-js|@grpc\/proto-loader|protobufjs)$/ }, (args) =>
      names.includes(args.path) ? { path: args.path, namespace: "unused-transport" } : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: "unused-transport" }, (args) => ({
      contents: stubSource(UNUSED[args.path]),
      loader: "js",
    }));
  },
};

module.exports = { node20, unusedTransports, UNUSED, ABSENT };
