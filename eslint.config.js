// Lint and format (dprint through @effect/eslint-plugin) for the TypeScript
// sources, tests and configs. `pnpm lint` checks, `pnpm lint-fix` rewrites.
import effect from "@effect/eslint-plugin"
import js from "@eslint/js"
import { defineConfig } from "eslint/config"
import tseslint from "typescript-eslint"

const typescriptFiles = [
  "packages/*/src/**/*.ts",
  "packages/*/test/**/*.ts",
  "packages/*/demo/**/*.ts",
  "packages/*/*.ts",
  "*.ts"
]

export default defineConfig(
  {
    ignores: ["**/build/**", "**/dist/**", "**/node_modules/**", "**/.tmp/**", "**/coverage/**"]
  },
  {
    files: typescriptFiles,
    extends: [js.configs.recommended, tseslint.configs.recommended, effect.configs.dprint],
    languageOptions: {
      parser: tseslint.parser,
      ecmaVersion: 2022,
      sourceType: "module"
    },
    linterOptions: {
      reportUnusedDisableDirectives: "error"
    },
    rules: {
      // Same formatting as the Effect monorepo: 2 spaces, 120 columns, no
      // semicolons, double quotes.
      "@effect/dprint": ["error", {
        config: {
          indentWidth: 2,
          lineWidth: 120,
          semiColons: "asi",
          quoteStyle: "alwaysDouble",
          trailingCommas: "never",
          operatorPosition: "maintain",
          "arrowFunction.useParentheses": "force"
        }
      }],

      // TypeScript checks unused names; `_`-prefixed ones are deliberate.
      "no-unused-vars": "off",
      "@typescript-eslint/no-unused-vars": ["error", {
        argsIgnorePattern: "^_",
        varsIgnorePattern: "^_",
        caughtErrorsIgnorePattern: "^_",
        ignoreRestSiblings: true
      }],
      "@typescript-eslint/no-explicit-any": "error",
      // Allowed with a comment saying why (style.md); warned so it is seen.
      "@typescript-eslint/no-non-null-assertion": "warn",
      "@typescript-eslint/array-type": ["warn", { default: "generic", readonly: "generic" }],
      "@typescript-eslint/consistent-type-imports": ["warn", { fixStyle: "inline-type-imports" }],
      // Effect idioms: `declare namespace` beside a tag, `interface X extends Y {}`.
      "@typescript-eslint/no-namespace": "off",
      "@typescript-eslint/no-empty-object-type": ["error", { allowInterfaces: "with-single-extends" }],
      // `Effect.gen(function*() { ... })` without a yield is fine.
      "require-yield": "off",
      "object-shorthand": "error",
      // SMTP input validation must match control characters (CR, LF, NUL).
      "no-control-regex": "off",
      "no-restricted-syntax": ["error", {
        selector: "ImportDeclaration[source.value='effect']",
        message: "Import modules, not the barrel: `import * as Effect from \"effect/Effect\"`."
      }]
    }
  },
  {
    files: ["packages/*/src/**/*.ts"],
    rules: {
      "no-console": "error"
    }
  },
  {
    // The test tooling's main entry runs wherever the client does (the client
    // itself compiles without Node types); only its /node entry may use Node.
    files: ["packages/testing/src/**/*.ts"],
    ignores: [
      "packages/testing/src/node.ts",
      "packages/testing/src/MisbehavingServer.ts",
      "packages/testing/src/TestCertificates.ts",
      "packages/testing/src/internal/node/**"
    ],
    rules: {
      "no-restricted-imports": ["error", {
        patterns: [{ group: ["node:*"], message: "Node-only code belongs to @effect-smtp/testing/node." }]
      }]
    }
  },
  {
    // In a test a wrong assumption behind "!" throws, which fails the test: that is the point.
    files: ["packages/*/test/**/*.ts", "packages/test-utils/src/**/*.ts"],
    rules: {
      "@typescript-eslint/no-non-null-assertion": "off"
    }
  }
)
