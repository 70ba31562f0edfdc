'use strict';

const path = require('path');

// The addon is built by `npm install` (cmake-js). Load it once; if it is missing, say how to build
// it rather than surfacing a bare MODULE_NOT_FOUND.
function loadBinding() {
  // WSN_BINDING_PATH: an addon built elsewhere (a sanitizer build, a developer's second build dir).
  if (process.env.WSN_BINDING_PATH) {
    return require(path.resolve(process.env.WSN_BINDING_PATH));
  }
  const candidates = [
    path.join(__dirname, '..', 'build', 'Release', 'ws_native.node'),
    path.join(__dirname, '..', 'build', 'Debug', 'ws_native.node')
  ];
  let lastError;
  for (const candidate of candidates) {
    try {
      return require(candidate);
    } catch (error) {
      if (error.code !== 'MODULE_NOT_FOUND') throw error;
      lastError = error;
    }
  }
  const error = new Error(
    'ws-native: the native addon is not built (looked for ' +
      candidates.join(', ') +
      '). Build it with `npm install` (or `npm run build`) in the ws-native ' +
      'package; it needs cmake, a C++17 compiler, and the OpenSSL and zlib ' +
      'headers (Debian: apt-get install cmake g++ libssl-dev zlib1g-dev).'
  );
  error.code = 'WS_NATIVE_ADDON_MISSING';
  error.cause = lastError;
  throw error;
}

module.exports = loadBinding();
