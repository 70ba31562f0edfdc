'use strict';

// How fast are the kernels? Masking (RFC 6455 §5.3) and UTF-8 validation (RFC 3629) of
// ws-native, once per ISA, against bufferutil, utf-8-validate, buffer.isUtf8 and a plain copy,
// all measured in this run. Also where a native call starts to beat a JS loop.
//
//   taskset -c 1 node bench/kernels.js
//
// The kernel table is chosen once per process, so each ISA runs in a child process started
// with WSN_FORCE_ISA (it inherits the CPU pinning); the baselines run in the parent.

const { execFileSync } = require('child_process');
const { isUtf8 } = require('buffer');
const os = require('os');

const binding = require('../lib/binding');
const bufferUtil = require('bufferutil');
const utf8Validate = require('utf-8-validate');

const MASK_SIZES = [125, 1024, 64 * 1024, 1024 * 1024];
const UTF8_SIZES = [1024, 64 * 1024, 1024 * 1024];
const SMALL_SIZES = [8, 16, 32, 48, 64, 125, 256, 512];
const SAMPLE_NS = 40e6;
const SAMPLES = 5;

/**
 * The best throughput of `fn` over a few timed samples.
 *
 * @param {Function} fn one operation on `bytes` bytes
 * @param {number} bytes bytes processed per call
 * @param {number} [sampleNs] target length of one sample
 * @return {number} GB/s (bytes per nanosecond)
 */
function measure(fn, bytes, sampleNs = SAMPLE_NS) {
  let iterations = 1;
  // Calibrate: double until one batch takes a tenth of a sample.
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
  let best = 0;
  for (let sample = 0; sample < SAMPLES; sample++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) fn();
    const elapsed = Number(process.hrtime.bigint() - start);
    best = Math.max(best, (bytes * iterations) / elapsed);
  }
  return best;
}

/**
 * A seeded PRNG (mulberry32): the same text in every process.
 *
 * @param {number} seed
 * @return {function(): number}
 */
function makeRandom(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/**
 * Valid UTF-8 of exactly `size` bytes. 'mixed': characters drawn at random, a third ASCII, a
 * third 2-byte (Cyrillic), a sixth 3-byte (CJK), a sixth 4-byte (emoji) -- so the length of
 * every sequence is unpredictable, the hard case for a branchy validator.
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
  return Buffer.concat(parts);
}

// What ws does without bufferutil: one XOR per byte in JS.
function jsMask(source, key, output, offset, length) {
  for (let i = 0; i < length; i++) output[offset + i] = source[i] ^ key[i & 3];
}

// A plain JS RFC 3629 validator, the cost ws pays for short messages in JS.
function jsIsValidUtf8(buf) {
  const length = buf.length;
  let i = 0;
  while (i < length) {
    const lead = buf[i];
    if (lead < 0x80) {
      i++;
      continue;
    }
    let need;
    let low = 0x80;
    let high = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) need = 1;
    else if (lead >= 0xe0 && lead <= 0xef) {
      need = 2;
      if (lead === 0xe0) low = 0xa0;
      else if (lead === 0xed) high = 0x9f;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      need = 3;
      if (lead === 0xf0) low = 0x90;
      else if (lead === 0xf4) high = 0x8f;
    } else return false;
    if (i + need >= length) return false;
    const second = buf[i + 1];
    if (second < low || second > high) return false;
    for (let k = 2; k <= need; k++) {
      if ((buf[i + k] & 0xc0) !== 0x80) return false;
    }
    i += need + 1;
  }
  return true;
}

/**
 * The ws-native measurements for the ISA this process dispatches to.
 *
 * @return {Object} GB/s by table and size
 */
function measureNative() {
  const next = makeRandom(1);
  const key = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  const result = {
    isa: binding.kernelInfo().isa,
    mask: {},
    unmask: {},
    small: {},
    utf8: {}
  };
  for (const size of MASK_SIZES) {
    const source = Buffer.alloc(size).map(() => next() & 0xff);
    const output = Buffer.alloc(size);
    result.mask[size] = measure(
      () => binding.mask(source, key, output, 0, size),
      size
    );
    result.unmask[size] = measure(() => binding.unmask(output, key), size);
  }
  for (const size of SMALL_SIZES) {
    const source = Buffer.alloc(size, 0x5a);
    const output = Buffer.alloc(size);
    result.small[size] = measure(
      () => binding.mask(source, key, output, 0, size),
      size,
      10e6
    );
  }
  for (const kind of ['ascii', 'mixed']) {
    for (const size of UTF8_SIZES) {
      const text = makeText(kind, size);
      if (!binding.isValidUtf8(text))
        throw new Error(`bench text invalid: ${kind} ${size}`);
      result.utf8[`${kind} ${size}`] = measure(
        () => binding.isValidUtf8(text),
        size
      );
    }
    for (const size of SMALL_SIZES) {
      const text = makeText(kind, size);
      result.utf8[`${kind} small ${size}`] = measure(
        () => binding.isValidUtf8(text),
        size,
        10e6
      );
    }
  }
  return result;
}

/**
 * Baselines: a copy, bufferutil, utf-8-validate, buffer.isUtf8 and JS loops.
 *
 * @return {Object} GB/s by table and size
 */
function measureBaselines() {
  const next = makeRandom(1);
  const key = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  const result = {
    copy: {},
    bufferutil: {},
    bufferutilUnmask: {},
    jsMask: {},
    smallBufferutil: {},
    utf8: {}
  };
  for (const size of MASK_SIZES) {
    const source = Buffer.alloc(size).map(() => next() & 0xff);
    const output = Buffer.alloc(size);
    result.copy[size] = measure(() => source.copy(output, 0, 0, size), size);
    result.bufferutil[size] = measure(
      () => bufferUtil.mask(source, key, output, 0, size),
      size
    );
    result.bufferutilUnmask[size] = measure(
      () => bufferUtil.unmask(output, key),
      size
    );
  }
  for (const size of SMALL_SIZES) {
    const source = Buffer.alloc(size, 0x5a);
    const output = Buffer.alloc(size);
    result.jsMask[size] = measure(
      () => jsMask(source, key, output, 0, size),
      size,
      10e6
    );
    result.smallBufferutil[size] = measure(
      () => bufferUtil.mask(source, key, output, 0, size),
      size,
      10e6
    );
  }
  for (const kind of ['ascii', 'mixed']) {
    for (const size of UTF8_SIZES) {
      const text = makeText(kind, size);
      if (!isUtf8(text) || !utf8Validate(text) || !jsIsValidUtf8(text)) {
        throw new Error(`bench text invalid: ${kind} ${size}`);
      }
      result.utf8[`isUtf8 ${kind} ${size}`] = measure(() => isUtf8(text), size);
      result.utf8[`utf-8-validate ${kind} ${size}`] = measure(
        () => utf8Validate(text),
        size
      );
    }
    for (const size of SMALL_SIZES) {
      const text = makeText(kind, size);
      result.utf8[`isUtf8 ${kind} small ${size}`] = measure(
        () => isUtf8(text),
        size,
        10e6
      );
      result.utf8[`js ${kind} small ${size}`] = measure(
        () => jsIsValidUtf8(text),
        size,
        10e6
      );
    }
  }
  return result;
}

const label = (size) =>
  size >= 1024 * 1024
    ? `${size / 1048576} MiB`
    : size >= 1024
      ? `${size / 1024} KiB`
      : `${size} B`;
const gb = (value) => value.toFixed(2).padStart(6);
const ratio = (value, base) => `${(value / base).toFixed(2)}x`;

function printTable(title, header, rows) {
  const widths = header.map((cell, i) =>
    Math.max(cell.length, ...rows.map((row) => String(row[i]).length))
  );
  const line = (cells) =>
    cells.map((cell, i) => String(cell).padEnd(widths[i])).join('  ');
  console.log(`\n${title}`);
  console.log(line(header));
  console.log(widths.map((width) => '-'.repeat(width)).join('  '));
  for (const row of rows) console.log(line(row));
}

function main() {
  if (process.argv[2] === '--child') {
    process.stdout.write(JSON.stringify(measureNative()));
    return;
  }
  const { available } = binding.kernelInfo();
  const cpus = os.cpus();
  console.log(
    `ws-native kernels: node ${process.version}, ${cpus[0] ? cpus[0].model : 'unknown CPU'}, ` +
      `ISAs ${available.join(', ')}; best of ${SAMPLES} samples, GB/s = bytes per ns`
  );

  const base = measureBaselines();
  const native = {};
  for (const isa of available) {
    const out = execFileSync(process.execPath, [__filename, '--child'], {
      env: { ...process.env, WSN_FORCE_ISA: isa },
      encoding: 'utf8'
    });
    native[isa] = JSON.parse(out);
    if (native[isa].isa !== isa)
      throw new Error(`child ran ${native[isa].isa}, not ${isa}`);
  }

  printTable(
    'mask(source, key, output, 0, n), GB/s (vs Buffer.copy / vs bufferutil.mask)',
    ['size', 'Buffer.copy', 'bufferutil', ...available],
    MASK_SIZES.map((size) => [
      label(size),
      gb(base.copy[size]),
      gb(base.bufferutil[size]),
      ...available.map(
        (isa) =>
          `${gb(native[isa].mask[size])} (${ratio(native[isa].mask[size], base.copy[size])} / ` +
          `${ratio(native[isa].mask[size], base.bufferutil[size])})`
      )
    ])
  );

  printTable(
    'unmask(buffer, key) in place, GB/s (vs bufferutil.unmask)',
    ['size', 'bufferutil', ...available],
    MASK_SIZES.map((size) => [
      label(size),
      gb(base.bufferutilUnmask[size]),
      ...available.map(
        (isa) =>
          `${gb(native[isa].unmask[size])} ` +
          `(${ratio(native[isa].unmask[size], base.bufferutilUnmask[size])})`
      )
    ])
  );

  const best = available[available.length - 1];
  printTable(
    `small masks: JS loop vs one native call (ws-native ${best}), GB/s`,
    ['size', 'JS loop', 'bufferutil', `ws-native`, 'native / JS'],
    SMALL_SIZES.map((size) => [
      label(size),
      gb(base.jsMask[size]),
      gb(base.smallBufferutil[size]),
      gb(native[best].small[size]),
      ratio(native[best].small[size], base.jsMask[size])
    ])
  );

  for (const kind of ['ascii', 'mixed']) {
    printTable(
      `isValidUtf8, ${kind} text, GB/s (vs buffer.isUtf8 / vs utf-8-validate)`,
      ['size', 'buffer.isUtf8', 'utf-8-validate', ...available],
      UTF8_SIZES.map((size) => {
        const reference = base.utf8[`isUtf8 ${kind} ${size}`];
        const validate = base.utf8[`utf-8-validate ${kind} ${size}`];
        return [
          label(size),
          gb(reference),
          gb(validate),
          ...available.map((isa) => {
            const value = native[isa].utf8[`${kind} ${size}`];
            return `${gb(value)} (${ratio(value, reference)} / ${ratio(value, validate)})`;
          })
        ];
      })
    );
    printTable(
      `small texts, ${kind}: JS loop vs native calls (ws-native ${best}), GB/s`,
      ['size', 'JS loop', 'buffer.isUtf8', 'ws-native', 'native / JS'],
      SMALL_SIZES.map((size) => [
        label(size),
        gb(base.utf8[`js ${kind} small ${size}`]),
        gb(base.utf8[`isUtf8 ${kind} small ${size}`]),
        gb(native[best].utf8[`${kind} small ${size}`]),
        ratio(
          native[best].utf8[`${kind} small ${size}`],
          base.utf8[`js ${kind} small ${size}`]
        )
      ])
    );
  }
}

main();
