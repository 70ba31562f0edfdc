#!/usr/bin/env node
'use strict';

// `npm run test:asan`: builds the addon with AddressSanitizer and
// UndefinedBehaviorSanitizer (gcc, -DWSN_SANITIZE=ON) into build-asan/ and runs
// the whole vitest suite against it. Node itself is not instrumented, so the
// sanitizer runtimes are preloaded (they must come first in the library list)
// and leak detection is off: Node leaves memory behind at exit by design, and
// those reports would bury ours.
//
//   node scripts/asan-tests.js [--no-build] [vitest arguments...]

const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const buildDir = 'build-asan';
const addon = path.join(root, buildDir, 'Release', 'ws_native.node');

function mustRun(command, args, options = {}) {
  console.log(`asan-tests: ${command} ${args.join(' ')}`);
  const result = spawnSync(command, args, {
    cwd: root,
    stdio: 'inherit',
    ...options
  });
  if (result.error) throw result.error;
  if (result.status !== 0)
    throw new Error(`asan-tests: ${command} exited ${result.status}`);
}

// gcc prints the bare name back when it has no such runtime.
function runtimePath(name) {
  const result = spawnSync('gcc', [`-print-file-name=${name}`], {
    encoding: 'utf8'
  });
  const file = (result.stdout || '').trim();
  if (result.status !== 0 || !path.isAbsolute(file) || !fs.existsSync(file)) {
    throw new Error(
      `asan-tests: gcc has no ${name} (Debian: apt-get install gcc, which ships libasan and libubsan)`
    );
  }
  return fs.realpathSync(file);
}

function main() {
  const args = process.argv.slice(2);
  const build = !args.includes('--no-build');
  const vitestArgs = args.filter((arg) => arg !== '--no-build');

  if (build) {
    mustRun(process.execPath, [
      require.resolve('cmake-js/bin/cmake-js'),
      'compile',
      '--log-level',
      'warn',
      '-O',
      buildDir,
      '--CDWSN_SANITIZE=ON'
    ]);
  }
  if (!fs.existsSync(addon))
    throw new Error(`asan-tests: ${addon} was not built`);

  const preload = [runtimePath('libasan.so'), runtimePath('libubsan.so')].join(
    ':'
  );
  const env = {
    ...process.env,
    LD_PRELOAD: preload,
    // abort_on_error: a report kills the worker, so vitest fails the file.
    ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=1:print_summary=1',
    UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1',
    WSN_BINDING_PATH: addon
  };
  mustRun(
    process.execPath,
    [
      path.join(root, 'node_modules', 'vitest', 'vitest.mjs'),
      'run',
      ...vitestArgs
    ],
    { env }
  );
}

try {
  main();
} catch (error) {
  console.error(error.message);
  process.exitCode = 1;
}
