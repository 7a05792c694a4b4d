// The build the server serves at /static for pages with no build step (the demo): the client
// entry with Zod bundled in, as one ES module, and its declarations in one file.
// `npm run build:static` writes both; tests/test_js_package.py fails if the committed files differ.
import { nodeResolve } from "@rollup/plugin-node-resolve";
import { dts } from "rollup-plugin-dts";

// THREADCAST_STATIC_OUT: write elsewhere (the freshness test builds into a temporary directory).
const STATIC = process.env.THREADCAST_STATIC_OUT ?? "../../server/threadcast/static";
const banner =
  "// threadcast.js: built from clients/js (npm run build:static); do not edit by hand.\n" +
  "// import { createClient } from \"/static/threadcast.js\"; types in threadcast.d.ts.";

export default [
  {
    input: "dist/index.js",
    output: { file: `${STATIC}/threadcast.js`, format: "es", banner },
    plugins: [nodeResolve()],
  },
  {
    input: "dist/index.d.ts",
    output: { file: `${STATIC}/threadcast.d.ts`, format: "es", banner: banner.replace("threadcast.js:", "threadcast.d.ts:") },
    plugins: [dts()],
  },
];
