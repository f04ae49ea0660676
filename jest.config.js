/** Unit tests run in parallel with no daemon; end-to-end tests run in band against real Docker. */
const tsJest = ["ts-jest", { tsconfig: { module: "commonjs", moduleResolution: "node", allowJs: true, isolatedModules: true, esModuleInterop: true, verbatimModuleSyntax: false } }];
const common = {
  testEnvironment: "node",
  transform: { "^.+\\.[tj]s$": tsJest },
  // p-debounce ships ES modules only; let ts-jest turn it into CommonJS for jest.
  transformIgnorePatterns: ["/node_modules/(?!p-debounce/)"],
};
module.exports = {
  projects: [
    { ...common, displayName: "unit", testMatch: ["<rootDir>/test/unit/**/*.test.ts"] },
    { ...common, displayName: "e2e", testMatch: ["<rootDir>/test/e2e/**/*.test.ts"], slowTestThreshold: 120 },
  ],
};
