// The Java interop suite's own config (`npm run test:java`): each test starts a JVM, so one file
// at a time and long timeouts. The root config excludes test/java/ so `npm test` needs no JDK.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { defineConfig } from 'vitest/config';

const root = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  '..'
);

export default defineConfig({
  test: {
    root,
    include: ['test/java/**/*.test.{js,mjs}'],
    testTimeout: 60000,
    hookTimeout: 60000,
    pool: 'forks',
    fileParallelism: false,
    reporters: ['default']
  }
});
