// ESLint (typescript-eslint, type-aware) for the sidecar, its tests and the benchmark; Prettier
// owns the layout, so the rules here are about correctness only.
import js from "@eslint/js";
import prettier from "eslint-config-prettier";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "coverage/**", "compose/webapp/*.js", "test-output/**", ".bench/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ["*.mjs", "*.js", "scripts/*.mjs", "scripts/*.js"] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      eqeqeq: "error",
      // pino keeps an Error's type and stack only when it is logged as an object under `err`.
      "no-restricted-syntax": [
        "error",
        {
          selector: "Property[key.name='err'] > MemberExpression[property.name='message']",
          message: "log errors as { err } Error objects, not their message",
        },
        {
          selector: "Property[key.name='err'] > TSAsExpression",
          message: "log errors as { err: toError(x) }, not a cast",
        },
      ],
    },
  },
  {
    files: ["test/**/*.ts"],
    rules: {
      // Fakes implement async interfaces without awaiting anything; jest's matchers are untyped.
      "@typescript-eslint/require-await": "off",
      "@typescript-eslint/unbound-method": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-return": "off",
      "@typescript-eslint/no-unsafe-call": "off",
    },
  },
  {
    files: ["**/*.mjs", "**/*.js"],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { globals: { module: "writable", require: "readonly", console: "readonly", process: "readonly" } },
  },
  prettier,
);
