#!/usr/bin/env node
'use strict';
// While a command runs, lib/cli/signals.ts handles SIGINT/SIGTERM/SIGHUP and a closed
// stdout/stderr pipe (EPIPE). After it, a closed pipe is no error (shears info | head):
// these listeners keep a late EPIPE from becoming an uncaught exception.
for (const stream of [process.stdout, process.stderr])
  stream.on('error', (e) => {
    if (e.code !== 'EPIPE') throw e;
  });
require('../dist/lib/cli/main.js')
  .main(process.argv)
  .then((code) => {
    process.exitCode = code;
  });
