// Preloaded (`node -r`) to run the CLI as an install without devDependencies would: a
// devDependency required from the project's own code fails as a missing package would.
'use strict';
const Module = require('node:module');
const { join } = require('node:path');
const root = join(__dirname, '..', '..');
const dev = Object.keys(require(join(root, 'package.json')).devDependencies);
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, parent, ...rest) {
  const ours = parent?.filename && !parent.filename.includes('node_modules');
  if (ours && dev.some((name) => request === name || request.startsWith(`${name}/`))) {
    const err = new Error(`Cannot find module '${request}' (a devDependency, required from ${parent.filename})`);
    err.code = 'MODULE_NOT_FOUND';
    throw err;
  }
  return resolve.call(this, request, parent, ...rest);
};
