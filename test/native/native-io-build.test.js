// The addon has native socket I/O exactly when its build could see libuv's uv.h (CMakeLists.txt
// looks next to the node binary, then in the system include path). CI sets
// WSN_EXPECT_NATIVE_IO=1 after making sure the header is there.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const binding = require('../../lib/binding.js');
const { available } = require('../../lib/native-socket.js');

function uvHeaderVisible() {
  const nodeInclude = path.resolve(process.execPath, '../../include/node');
  return [
    path.join(nodeInclude, 'uv.h'),
    '/usr/include/node/uv.h',
    '/usr/local/include/node/uv.h',
    '/usr/include/uv.h'
  ].some((file) => fs.existsSync(file));
}

describe('native socket I/O in this build', () => {
  it('is built in when uv.h is visible (and always in CI)', () => {
    const expected =
      process.env.WSN_EXPECT_NATIVE_IO === '1' ? true : uvHeaderVisible();
    expect(available).toBe(expected);
    expect(typeof binding.NativeSocket).toBe(
      expected ? 'function' : 'undefined'
    );
    expect(typeof binding.setSocketCallbacks).toBe(
      expected ? 'function' : 'undefined'
    );
  });
});
