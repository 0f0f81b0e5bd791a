#!/usr/bin/env node
'use strict';
// A closed pipe (shears info | head) is not an error.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});
require('../dist/lib/cli/main.js')
  .main(process.argv)
  .then((code) => {
    process.exitCode = code;
  });
