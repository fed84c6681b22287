#!/usr/bin/env node
'use strict';
// The CLI ships as TypeScript; tsx's CommonJS hook compiles it on require, so there is no build step.
require('tsx/cjs');
require('../cli/index.ts')
  .main(process.argv)
  .catch((err) => {
    // runCli reports expected failures itself; this is for a bug, so keep the stack.
    console.error(err);
    process.exitCode = 1;
  });
