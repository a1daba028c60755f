#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm ci` (the prepare script).
import('../dist/cli/index.js').catch((err) => {
  console.error(`ferrymq: cannot load the CLI (${err.message}); run "npm run build" first.`);
  process.exit(1);
});
