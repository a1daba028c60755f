#!/usr/bin/env node
// CommonJS on purpose: libuv sizes its threadpool before the first ESM module runs, so only a CJS
// launcher can raise UV_THREADPOOL_SIZE in time. fdatasync runs on that pool, and the broker's group
// commit syncs one file per touched queue, so it needs more than libuv's default of 4 threads.
process.env.UV_THREADPOOL_SIZE ??= process.env.FERRYMQ_UV_THREADPOOL_SIZE ?? '16';
import('../dist/cli/index.js').catch((err) => {
  console.error(`ferrymq: cannot load the CLI (${err.message}); run "npm run build" first.`);
  process.exit(1);
});
