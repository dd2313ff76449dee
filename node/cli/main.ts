#!/usr/bin/env node
/** The `switchyard` executable: runs a command and exits with its code. */
import { runCli } from './run.js';

runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env }).then(
  (code) => {
    process.exitCode = code;
    // Whatever a library left scheduled, the command is over.
    setImmediate(() => process.exit(code));
  },
  (err: unknown) => {
    process.stderr.write(`switchyard: ${String(err)}\n`);
    process.exit(1);
  },
);
