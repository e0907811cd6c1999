#!/usr/bin/env node
// Entry point of the `lollms-host` command. isolated-vm needs `--no-node-snapshot`, which cannot be set from
// NODE_OPTIONS for every case, so without it this script re-runs itself with the flag.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';

const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(`lollms-host needs Node.js 24 or newer; this is ${process.version}.\n`);
  process.exit(1);
}

if (!process.execArgv.includes('--no-node-snapshot')) {
  const self = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, ['--no-node-snapshot', '--enable-source-maps', ...process.execArgv, self, ...process.argv.slice(2)], { stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 + (constants.signals[signal] ?? 0) : 1)));
} else {
  const cli = new URL('../dist/core/cli.js', import.meta.url);
  if (!existsSync(fileURLToPath(cli))) {
    process.stderr.write('lollms-host is not built yet: run `npm run build` (npm ci does it) first.\n');
    process.exit(1);
  }
  const { main } = await import(cli.href);
  process.exit(await main(process.argv.slice(2)));
}
