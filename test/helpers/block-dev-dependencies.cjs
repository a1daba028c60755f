/**
 * Preload (`node -r`) that makes every devDependency of package.json impossible to load, through
 * require() and through import, as in an install of the published package. Tests run the compiled
 * CLI under it to prove that nothing it loads needs one.
 */
const Module = require('node:module');
const { readFileSync } = require('node:fs');
const { join } = require('node:path');

const pkg = JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8'));
const blocked = Object.keys(pkg.devDependencies ?? {}).filter((name) => !(name in (pkg.dependencies ?? {})));

const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (blocked.some((name) => request === name || request.startsWith(`${name}/`))) {
    const err = new Error(`Cannot find module '${request}' (a devDependency, blocked by the test)`);
    err.code = 'MODULE_NOT_FOUND';
    throw err;
  }
  return resolveFilename.call(this, request, ...rest);
};

const hooks = `
const blocked = ${JSON.stringify(blocked)};
export async function resolve(specifier, context, next) {
  if (blocked.some((name) => specifier === name || specifier.startsWith(name + '/'))) {
    const err = new Error("Cannot find package '" + specifier + "' (a devDependency, blocked by the test)");
    err.code = 'ERR_MODULE_NOT_FOUND';
    throw err;
  }
  return next(specifier, context);
}`;
Module.register(`data:text/javascript,${encodeURIComponent(hooks)}`);
