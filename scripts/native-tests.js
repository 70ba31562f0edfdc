#!/usr/bin/env node
'use strict';

// `npm run test:native`: the C++ tests of native/test/ twice over.
//   1. build-dev: -DWSN_DEV=ON -DWSN_SANITIZE=ON (ASan + UBSan, warnings as
//      errors), run by ctest. Only core is linked, so no Node is in the
//      process and leak detection stays on.
//   2. build-valgrind: the same tests without sanitizers (valgrind and ASan
//      cannot share a process), each run under valgrind memcheck with
//      --error-exitcode=1, so uninitialised reads ASan cannot see fail too.
//
//   node scripts/native-tests.js [--no-valgrind]

const { spawnSync } = require('child_process');
const path = require('path');

const root = path.join(__dirname, '..');

function run(command, args, options = {}) {
  console.log(`native-tests: ${command} ${args.join(' ')}`);
  const result = spawnSync(command, args, {
    cwd: root,
    stdio: 'inherit',
    ...options
  });
  if (result.error) throw result.error;
  return result.status;
}

function mustRun(command, args, options) {
  const status = run(command, args, options);
  if (status !== 0) {
    throw new Error(`native-tests: ${command} exited ${status}`);
  }
}

function configureAndBuild(buildDir, extraFlags) {
  mustRun('cmake', [
    '-S',
    '.',
    '-B',
    buildDir,
    '-DWSN_DEV=ON',
    '-DCMAKE_BUILD_TYPE=RelWithDebInfo',
    ...extraFlags
  ]);
  mustRun('cmake', ['--build', buildDir, '-j2']);
}

// The test commands ctest knows, so valgrind runs exactly what ctest runs.
function listTests(buildDir) {
  const result = spawnSync(
    'ctest',
    ['--test-dir', buildDir, '--show-only=json-v1'],
    { cwd: root, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 }
  );
  if (result.status !== 0) {
    throw new Error(`native-tests: ctest --show-only failed: ${result.stderr}`);
  }
  return JSON.parse(result.stdout).tests.map((test) => {
    const dirProperty = (test.properties || []).find(
      (property) => property.name === 'WORKING_DIRECTORY'
    );
    return {
      name: test.name,
      command: test.command,
      cwd: dirProperty ? dirProperty.value : root
    };
  });
}

function main() {
  const withValgrind = !process.argv.includes('--no-valgrind');

  const sanitized = path.join(root, 'build-dev');
  configureAndBuild(sanitized, ['-DWSN_SANITIZE=ON']);
  const ctestStatus = run(
    'ctest',
    ['--test-dir', sanitized, '--output-on-failure'],
    {
      env: {
        ...process.env,
        ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=1',
        UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1'
      }
    }
  );

  let passed = 0;
  let failed = 0;
  if (withValgrind) {
    const plain = path.join(root, 'build-valgrind');
    configureAndBuild(plain, ['-DWSN_SANITIZE=OFF']);
    for (const test of listTests(plain)) {
      const status = run(
        'valgrind',
        [
          '--quiet',
          '--error-exitcode=1',
          '--leak-check=full',
          '--errors-for-leak-kinds=definite',
          '--track-origins=yes',
          ...test.command
        ],
        { cwd: test.cwd }
      );
      if (status === 0) passed++;
      else failed++;
      console.log(
        `native-tests: valgrind ${test.name}: ${status === 0 ? 'clean' : 'FAILED'}`
      );
    }
    console.log(`valgrind: ${passed} passed, ${failed} failed`);
  }
  if (ctestStatus !== 0 || failed !== 0) process.exitCode = 1;
}

try {
  main();
} catch (error) {
  console.error(error.message);
  process.exitCode = 1;
}
