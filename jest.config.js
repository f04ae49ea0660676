/**
 * Unit tests are pure and run in parallel; integration tests put one adapter against the real
 * thing (dockerd, HAProxy, HTTP); end-to-end tests run the whole stack, in band.
 */
const tsJest = [
  "ts-jest",
  {
    tsconfig: {
      module: "commonjs",
      moduleResolution: "node",
      allowJs: true,
      isolatedModules: true,
      esModuleInterop: true,
      verbatimModuleSyntax: false,
    },
  },
];
const common = {
  testEnvironment: "node",
  transform: { "^.+\\.[tj]s$": tsJest },
  // p-debounce ships ES modules only; let ts-jest turn it into CommonJS for jest.
  transformIgnorePatterns: ["/node_modules/(?!p-debounce/)"],
};
module.exports = {
  projects: [
    { ...common, displayName: "unit", testMatch: ["<rootDir>/test/unit/**/*.test.ts"] },
    { ...common, displayName: "integration", testMatch: ["<rootDir>/test/integration/**/*.test.ts"] },
    {
      ...common,
      displayName: "e2e",
      testMatch: ["<rootDir>/test/e2e/**/*.test.ts"],
      setupFiles: ["<rootDir>/test/e2e/env.ts"],
      setupFilesAfterEnv: ["<rootDir>/test/e2e/setup-e2e.ts"],
      slowTestThreshold: 120,
    },
  ],
};
