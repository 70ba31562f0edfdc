'use strict';

// How fast are the kernels? Masking (RFC 6455 §5.3) and UTF-8 validation
// (RFC 3629) of ws-native, once per ISA, against bufferutil, utf-8-validate,
// buffer.isUtf8 and a plain copy, all measured in this run; and from which
// size one native call beats a JS loop.
//
//   taskset -c 1 node bench/kernels.js [--runs 3]
//
// The kernel table is chosen once per process, so each ISA runs in a child
// process started with WSN_FORCE_ISA (it inherits the CPU pinning). Each child
// also measures the baselines, with samples taken in turns (native, baseline,
// native, ...), so a neighbour that steals the CPU for a while slows all
// contestants alike and the ratios stay honest on a shared machine.

const { execFileSync } = require('child_process');
const { isUtf8 } = require('buffer');
const os = require('os');

const binding = require('../lib/binding');
const { isValidUTF8Short } = require('../lib/validation');
const bufferUtil = require('bufferutil');
const utf8Validate = require('utf-8-validate');
const { makeRandom } = require('./loadgen/random');

const MASK_SIZES = [125, 1024, 64 * 1024, 1024 * 1024];
const UTF8_SIZES = [1024, 64 * 1024, 1024 * 1024];
const SMALL_SIZES = [8, 16, 32, 48, 64, 125, 256, 512];
const SAMPLES = 15;
const SAMPLE_NS = 10e6;
const SMALL_SAMPLE_NS = 4e6;
const KEY = Buffer.from([0x12, 0x34, 0x56, 0x78]);

/**
 * Times several contestants in turns and keeps each one's best sample.
 *
 * @param {Object<string, Function>} contestants name -> one operation
 * @param {number} bytes bytes processed per operation
 * @param {number} sampleNs target length of one sample
 * @return {Object<string, number>} name -> GB/s (bytes per nanosecond)
 */
function race(contestants, bytes, sampleNs) {
  const entries = Object.entries(contestants).map(([name, fn]) => {
    // Calibrate: double until one batch takes a tenth of a sample.
    let iterations = 1;
    for (;;) {
      const start = process.hrtime.bigint();
      for (let i = 0; i < iterations; i++) fn();
      const elapsed = Number(process.hrtime.bigint() - start);
      if (elapsed > sampleNs / 10) {
        iterations = Math.max(1, Math.ceil((iterations * sampleNs) / elapsed));
        break;
      }
      iterations *= 2;
    }
    return { name, fn, iterations, best: 0 };
  });
  for (let sample = 0; sample < SAMPLES; sample++) {
    for (const entry of entries) {
      const { fn, iterations } = entry;
      const start = process.hrtime.bigint();
      for (let i = 0; i < iterations; i++) fn();
      const elapsed = Number(process.hrtime.bigint() - start);
      entry.best = Math.max(entry.best, (bytes * iterations) / elapsed);
    }
  }
  return Object.fromEntries(entries.map(({ name, best }) => [name, best]));
}

function randomBytes(size) {
  const next = makeRandom(size);
  const bytes = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) bytes[i] = next() & 0xff;
  return bytes;
}

/**
 * Valid UTF-8 of exactly `size` bytes. 'mixed': characters drawn at random, a
 * third ASCII, a third 2-byte (Cyrillic), a sixth 3-byte (CJK), a sixth 4-byte
 * (emoji), so the length of each sequence is unpredictable: the hard case for
 * a validator that branches per character.
 *
 * @param {'ascii'|'mixed'} kind
 * @param {number} size
 * @return {Buffer}
 */
function makeText(kind, size) {
  if (kind === 'ascii') {
    const text = Buffer.alloc(size);
    for (let i = 0; i < size; i++) text[i] = 0x20 + (i % 95);
    return text;
  }
  const next = makeRandom(size);
  const parts = [];
  let length = 0;
  while (length < size) {
    const pick = next() % 6;
    let char;
    if (pick < 2) char = String.fromCharCode(0x20 + (next() % 95));
    else if (pick < 4) char = String.fromCharCode(0x410 + (next() % 64));
    else if (pick < 5) char = String.fromCharCode(0x4e00 + (next() % 0x5000));
    else char = String.fromCodePoint(0x1f600 + (next() % 80));
    const bytes = Buffer.from(char);
    if (length + bytes.length > size) {
      parts.push(Buffer.alloc(size - length, 0x20));
      length = size;
    } else {
      parts.push(bytes);
      length += bytes.length;
    }
  }
  const text = Buffer.concat(parts);
  if (!isUtf8(text))
    throw new Error(`bench text is not UTF-8: ${kind} ${size}`);
  return text;
}

// What ws does without bufferutil: one XOR per byte in JS.
function jsMask(source, key, output, offset, length) {
  for (let i = 0; i < length; i++) output[offset + i] = source[i] ^ key[i & 3];
}

/**
 * Everything measured in one child: ws-native on the ISA WSN_FORCE_ISA chose,
 * raced against the baselines.
 *
 * @param {boolean} small also race the small sizes
 * @return {Object}
 */
function measureChild(small) {
  const result = { isa: binding.kernelInfo().isa, mask: {}, unmask: {} };
  result.utf8 = {};
  result.smallMask = {};
  result.smallUtf8 = {};
  for (const size of MASK_SIZES) {
    const source = randomBytes(size);
    const output = Buffer.alloc(size);
    result.mask[size] = race(
      {
        native: () => binding.mask(source, KEY, output, 0, size),
        bufferutil: () => bufferUtil.mask(source, KEY, output, 0, size),
        copy: () => source.copy(output, 0, 0, size)
      },
      size,
      SAMPLE_NS
    );
    result.unmask[size] = race(
      {
        native: () => binding.unmask(output, KEY),
        bufferutil: () => bufferUtil.unmask(output, KEY)
      },
      size,
      SAMPLE_NS
    );
  }
  for (const kind of ['ascii', 'mixed']) {
    for (const size of UTF8_SIZES) {
      const text = makeText(kind, size);
      result.utf8[`${kind} ${size}`] = race(
        {
          native: () => binding.isValidUtf8(text),
          isUtf8: () => isUtf8(text),
          utf8Validate: () => utf8Validate(text)
        },
        size,
        SAMPLE_NS
      );
    }
  }
  if (!small) return result;
  for (const size of SMALL_SIZES) {
    const source = randomBytes(size);
    const output = Buffer.alloc(size);
    result.smallMask[size] = race(
      {
        native: () => binding.mask(source, KEY, output, 0, size),
        bufferutil: () => bufferUtil.mask(source, KEY, output, 0, size),
        js: () => jsMask(source, KEY, output, 0, size)
      },
      size,
      SMALL_SAMPLE_NS
    );
    for (const kind of ['ascii', 'mixed']) {
      const text = makeText(kind, size);
      result.smallUtf8[`${kind} ${size}`] = race(
        {
          native: () => binding.isValidUtf8(text),
          isUtf8: () => isUtf8(text),
          js: () => isValidUTF8Short(text)
        },
        size,
        SMALL_SAMPLE_NS
      );
    }
  }
  return result;
}

function label(size) {
  if (size >= 1048576) return `${size / 1048576} MiB`;
  if (size >= 1024) return `${size / 1024} KiB`;
  return `${size} B`;
}

const gb = (value) => value.toFixed(2);
const ratio = (value, base) => `${(value / base).toFixed(2)}x`;

// A markdown table, like the other bench scripts print, padded so it also
// reads well in a terminal.
function printTable(title, header, rows) {
  const cells = [header, ...rows].map((row) => row.map(String));
  const widths = header.map((_, i) =>
    Math.max(...cells.map((row) => row[i].length))
  );
  const line = (row) =>
    `| ${row.map((cell, i) => cell.padEnd(widths[i])).join(' | ')} |`;
  console.log(`\n${title}\n`);
  console.log(line(cells[0]));
  console.log(`| ${widths.map((width) => '-'.repeat(width)).join(' | ')} |`);
  for (const row of cells.slice(1)) console.log(line(row));
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2
    ? sorted[middle]
    : (sorted[middle - 1] + sorted[middle]) / 2;
}

function main() {
  if (process.argv[2] === '--child') {
    const small = process.argv[3] === 'small';
    process.stdout.write(JSON.stringify(measureChild(small)));
    return;
  }
  const runsIndex = process.argv.indexOf('--runs');
  const runCount =
    runsIndex === -1 ? 3 : Math.max(1, Number(process.argv[runsIndex + 1]));
  const { available } = binding.kernelInfo();
  const best = available[available.length - 1];
  const cpu = os.cpus()[0];
  console.log(
    `ws-native kernels: node ${process.version}, ${cpu ? cpu.model : 'CPU ?'}` +
      `, ISAs ${available.join(', ')}. GB/s = bytes per ns: the best of ` +
      `${SAMPLES} samples taken in turns with the baselines in one process, ` +
      `then the median over ${runCount} such processes per ISA; a ratio is ` +
      'the median of the ratios measured within each process.'
  );

  // Runs of the ISAs alternate, so a busy spell on the machine does not land
  // on one ISA only.
  const runs = Object.fromEntries(available.map((isa) => [isa, []]));
  for (let run = 0; run < runCount; run++) {
    for (const isa of available) {
      const args = [__filename, '--child', isa === best ? 'small' : 'large'];
      const out = execFileSync(process.execPath, args, {
        env: { ...process.env, WSN_FORCE_ISA: isa },
        encoding: 'utf8'
      });
      const result = JSON.parse(out);
      if (result.isa !== isa) {
        throw new Error(`the child ran ${result.isa}, not ${isa}`);
      }
      runs[isa].push(result);
    }
  }
  // GB/s of one contestant, and the ratio of two, over the runs of an ISA.
  const speed = (isa, table, key, who) =>
    gb(median(runs[isa].map((run) => run[table][key][who])));
  const versus = (isa, table, key, who, base) =>
    ratio(
      median(
        runs[isa].map((run) => run[table][key][who] / run[table][key][base])
      ),
      1
    );

  printTable(
    'mask(source, key, output, 0, n): GB/s (ws-native vs Buffer.copy / vs ' +
      `bufferutil.mask; baseline columns from the ${best} runs)`,
    ['size', 'Buffer.copy', 'bufferutil', ...available],
    MASK_SIZES.map((size) => [
      label(size),
      speed(best, 'mask', size, 'copy'),
      speed(best, 'mask', size, 'bufferutil'),
      ...available.map(
        (isa) =>
          `${speed(isa, 'mask', size, 'native')} ` +
          `(${versus(isa, 'mask', size, 'native', 'copy')} / ` +
          `${versus(isa, 'mask', size, 'native', 'bufferutil')})`
      )
    ])
  );

  printTable(
    'unmask(buffer, key) in place: GB/s (ws-native vs bufferutil.unmask)',
    ['size', 'bufferutil', ...available],
    MASK_SIZES.map((size) => [
      label(size),
      speed(best, 'unmask', size, 'bufferutil'),
      ...available.map(
        (isa) =>
          `${speed(isa, 'unmask', size, 'native')} ` +
          `(${versus(isa, 'unmask', size, 'native', 'bufferutil')})`
      )
    ])
  );

  for (const kind of ['ascii', 'mixed']) {
    printTable(
      `isValidUtf8, ${kind} text: GB/s (ws-native vs buffer.isUtf8 / vs ` +
        'utf-8-validate)',
      ['size', 'buffer.isUtf8', 'utf-8-validate', ...available],
      UTF8_SIZES.map((size) => {
        const key = `${kind} ${size}`;
        return [
          label(size),
          speed(best, 'utf8', key, 'isUtf8'),
          speed(best, 'utf8', key, 'utf8Validate'),
          ...available.map(
            (isa) =>
              `${speed(isa, 'utf8', key, 'native')} ` +
              `(${versus(isa, 'utf8', key, 'native', 'isUtf8')} / ` +
              `${versus(isa, 'utf8', key, 'native', 'utf8Validate')})`
          )
        ];
      })
    );
  }

  printTable(
    `Small payloads, ws-native ${best}: GB/s of one call (native / JS loop)`,
    [
      'size',
      'mask: JS',
      'bufferutil',
      'ws-native',
      'ascii: JS',
      'isUtf8',
      'ws-native',
      'mixed: JS',
      'isUtf8',
      'ws-native'
    ],
    SMALL_SIZES.map((size) => {
      const row = [
        label(size),
        speed(best, 'smallMask', size, 'js'),
        speed(best, 'smallMask', size, 'bufferutil'),
        `${speed(best, 'smallMask', size, 'native')} ` +
          `(${versus(best, 'smallMask', size, 'native', 'js')})`
      ];
      for (const kind of ['ascii', 'mixed']) {
        const key = `${kind} ${size}`;
        row.push(
          speed(best, 'smallUtf8', key, 'js'),
          speed(best, 'smallUtf8', key, 'isUtf8'),
          `${speed(best, 'smallUtf8', key, 'native')} ` +
            `(${versus(best, 'smallUtf8', key, 'native', 'js')})`
        );
      }
      return row;
    })
  );
}

main();
