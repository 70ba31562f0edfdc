// The implementations the compat, conformance and integration suites run against: `ws` itself
// (the reference) and ws-native (this package). Each suite is written once and run per entry.

import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe } from 'vitest';

const require = createRequire(import.meta.url);
const ROOT = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../..'
);

/**
 * Loads ws-native the way a user's `require('ws-native')` would. A missing index.js or addon
 * throws, naming what is missing, so every test of its suites fails (never a silent skip).
 *
 * @return {Function} the module's export (the WebSocket class with its statics)
 */
function loadNative() {
  try {
    return require(path.join(ROOT, 'index.js'));
  } catch (error) {
    const wrapped = new Error(
      `ws-native could not be loaded from ${ROOT}/index.js (is index.js written and the ` +
        'addon built? set WSN_BINDING_PATH for a private build): ' +
        error.message
    );
    wrapped.cause = error;
    throw wrapped;
  }
}

function makeImplementation(name, load, esmPath) {
  let lib;
  return {
    name,
    /** The ESM entry point (wrapper.mjs), for import(). */
    esmPath,
    /** The module export, loaded on first use. */
    get lib() {
      if (lib === undefined) lib = load();
      return lib;
    },
    get WebSocket() {
      return this.lib;
    },
    get WebSocketServer() {
      return this.lib.WebSocketServer;
    },
    get createWebSocketStream() {
      return this.lib.createWebSocketStream;
    }
  };
}

const ALL = [
  makeImplementation(
    'ws',
    () => require('ws'),
    path.join(path.dirname(require.resolve('ws')), 'wrapper.mjs')
  ),
  makeImplementation('ws-native', loadNative, path.join(ROOT, 'wrapper.mjs'))
];

/**
 * The implementations to test. WSN_IMPLEMENTATIONS=ws (a comma-separated list) narrows the run
 * explicitly, for example to check a new test against the reference first.
 */
export const implementations = (() => {
  const wanted = process.env.WSN_IMPLEMENTATIONS;
  if (!wanted) return ALL;
  const names = wanted.split(',').map((name) => name.trim());
  for (const name of names) {
    if (!ALL.some((impl) => impl.name === name)) {
      throw new Error(
        `WSN_IMPLEMENTATIONS names an unknown implementation: ${name}`
      );
    }
  }
  return ALL.filter((impl) => names.includes(impl.name));
})();

/**
 * The reference implementation, whatever the filter says (for interop pairs).
 */
export const reference = ALL[0];

/** ws-native, whatever the filter says (for interop pairs). */
export const native = ALL[1];

/**
 * Runs `fn(impl)` inside one describe block per implementation, titled "<title> [<name>]".
 *
 * @param {string} title
 * @param {function(Object): void} fn
 */
export function describeEach(title, fn) {
  for (const impl of implementations) {
    describe(`${title} [${impl.name}]`, () => fn(impl));
  }
}

/**
 * Sets WSN_NATIVE_IO, which ws-native reads per connection (undefined removes it), and returns a
 * function restoring the old value.
 *
 * @param {(string|undefined)} value
 * @return {function(): void}
 */
export function setNativeIo(value) {
  const saved = process.env.WSN_NATIVE_IO;
  const apply = (v) => {
    if (v === undefined) delete process.env.WSN_NATIVE_IO;
    else process.env.WSN_NATIVE_IO = v;
  };
  apply(value);
  return () => apply(saved);
}
