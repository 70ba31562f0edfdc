#!/usr/bin/env node
'use strict';

// `npm run fuzz`: builds the libFuzzer targets of native/fuzz/ with clang
// (build-fuzz/, core instrumented with ASan + UBSan), replays the saved
// regressions, then runs each target for a bounded time. Any crash, leak,
// timeout or OOM input is copied to native/fuzz/regressions/<target>/ and the
// script exits non-zero.
//
//   node scripts/fuzz.js [--seconds N] [--only a,b] [--parallel N] [--no-build]

const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const buildDir = path.join(root, 'build-fuzz');
const fuzzDir = path.join(root, 'native', 'fuzz');

// Per-target libFuzzer flags. The extension parser is specified linear: long
// headers with a short timeout catch quadratic paths.
const TARGET_FLAGS = {
  frame_parser_fuzz: ['-max_len=16384'],
  utf8_fuzz: ['-max_len=4096'],
  inflate_fuzz: ['-max_len=8192'],
  extension_fuzz: ['-max_len=65536', '-timeout=2'],
  handshake_fuzz: ['-max_len=256']
};

/**
 * Parses the command line.
 *
 * @param {string[]} argv Arguments after the script name
 * @return {{seconds: number, only: string[]|null, parallel: number,
 *   build: boolean}}
 */
function parseArgs(argv) {
  const options = { seconds: 60, only: null, parallel: 1, build: true };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--seconds') options.seconds = Number(argv[++i]);
    else if (arg === '--only') options.only = argv[++i].split(',');
    else if (arg === '--parallel') options.parallel = Number(argv[++i]);
    else if (arg === '--no-build') options.build = false;
    else throw new Error(`fuzz: unknown argument ${arg}`);
  }
  if (!(options.seconds > 0)) throw new Error('fuzz: --seconds must be > 0');
  if (!(options.parallel >= 1 && options.parallel <= 2)) {
    throw new Error('fuzz: --parallel is 1 or 2 (the machine has 2 cores)');
  }
  return options;
}

function run(command, args) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    throw new Error(
      `fuzz: ${command} ${args.join(' ')} exited ${result.status}`
    );
  }
}

function build() {
  run('cmake', [
    '-S',
    '.',
    '-B',
    buildDir,
    '-DWSN_FUZZ=ON',
    '-DCMAKE_BUILD_TYPE=RelWithDebInfo',
    '-DCMAKE_CXX_COMPILER=clang++',
    '-DCMAKE_C_COMPILER=clang'
  ]);
  run('cmake', ['--build', buildDir, '-j2']);
}

function listTargets() {
  return fs
    .readdirSync(fuzzDir)
    .filter((name) => name.endsWith('_fuzz.cc'))
    .map((name) => name.slice(0, -3))
    .sort();
}

function filesIn(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .map((name) => path.join(dir, name))
    .filter((file) => fs.statSync(file).isFile());
}

// Runs the target once over each saved regression input: they must all pass
// now that the bug is fixed.
function replayRegressions(target) {
  const inputs = filesIn(path.join(fuzzDir, 'regressions', target));
  if (inputs.length === 0) return true;
  const result = spawnSync(path.join(buildDir, target), inputs, {
    cwd: root,
    encoding: 'utf8'
  });
  const ok = result.status === 0;
  console.log(
    `fuzz: ${target}: ${inputs.length} regression input(s) ${ok ? 'pass' : 'FAIL'}`
  );
  if (!ok) process.stderr.write(result.stderr.slice(-4000));
  return ok;
}

/**
 * Fuzzes one target for `seconds`, niced so other work on the machine keeps
 * its share. Resolves with the run's statistics and any saved crash inputs.
 */
function fuzzTarget(target, seconds) {
  const corpus = path.join(buildDir, 'corpus', target);
  const artifacts = path.join(buildDir, 'artifacts', target);
  fs.mkdirSync(corpus, { recursive: true });
  fs.mkdirSync(artifacts, { recursive: true });
  const before = new Set(fs.readdirSync(artifacts));
  const startedAt = Date.now();
  const args = [
    '-n',
    '10',
    path.join(buildDir, target),
    `-max_total_time=${seconds}`,
    '-print_final_stats=1',
    `-artifact_prefix=${artifacts}${path.sep}`,
    ...(TARGET_FLAGS[target] || []),
    corpus,
    path.join(fuzzDir, 'seeds', target)
  ];
  return new Promise((resolve, reject) => {
    const child = spawn('nice', args, {
      cwd: root,
      env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0' },
      stdio: ['ignore', 'ignore', 'pipe']
    });
    let tail = '';
    child.stderr.on('data', (data) => {
      tail = (tail + data.toString()).slice(-20000);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const stat = (name) => {
        const match = new RegExp(`stat::${name}:\\s+(\\d+)`).exec(tail);
        return match ? Number(match[1]) : NaN;
      };
      const found = fs
        .readdirSync(artifacts)
        .filter((name) => !before.has(name));
      const saved = [];
      for (const name of found) {
        const destination = path.join(fuzzDir, 'regressions', target);
        fs.mkdirSync(destination, { recursive: true });
        fs.copyFileSync(
          path.join(artifacts, name),
          path.join(destination, name)
        );
        saved.push(path.join('native', 'fuzz', 'regressions', target, name));
      }
      if (code !== 0 || saved.length > 0)
        process.stderr.write(tail.slice(-6000));
      resolve({
        target,
        seconds: Math.round((Date.now() - startedAt) / 1000),
        executions: stat('number_of_executed_units'),
        execsPerSecond: stat('average_exec_per_sec'),
        peakRssMb: stat('peak_rss_mb'),
        corpusFiles: fs.readdirSync(corpus).length,
        exitCode: code,
        saved
      });
    });
  });
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  if (options.build) build();
  const targets = listTargets().filter(
    (target) => !options.only || options.only.includes(target)
  );
  if (targets.length === 0) throw new Error('fuzz: no target selected');

  let failed = false;
  for (const target of targets) {
    if (!replayRegressions(target)) failed = true;
  }

  const results = [];
  const queue = targets.slice();
  const worker = async () => {
    while (queue.length > 0) {
      const target = queue.shift();
      console.log(`fuzz: ${target}: running ${options.seconds} s`);
      results.push(await fuzzTarget(target, options.seconds));
    }
  };
  await Promise.all(Array.from({ length: options.parallel }, worker));

  results.sort((a, b) => a.target.localeCompare(b.target));
  for (const r of results) {
    console.log(
      `fuzz: ${r.target}: ${r.seconds} s, ${r.executions} executions ` +
        `(${r.execsPerSecond}/s), corpus ${r.corpusFiles}, peak RSS ` +
        `${r.peakRssMb} MB, exit ${r.exitCode}` +
        (r.saved.length ? `, SAVED ${r.saved.join(' ')}` : '')
    );
    if (r.exitCode !== 0 || r.saved.length > 0) failed = true;
  }
  const bad = results.filter(
    (r) => r.exitCode !== 0 || r.saved.length > 0
  ).length;
  console.log(`fuzz: ${results.length - bad} passed, ${bad} failed`);
  process.exitCode = failed ? 1 : 0;
}

main().catch((error) => {
  console.error(error.message);
  process.exitCode = 1;
});
