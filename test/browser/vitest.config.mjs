// The browser suite's own config (`npm run test:browser`): headless Chromium is slow to start
// and needs the whole machine's attention, so one file at a time and long timeouts. The root
// config excludes test/browser/ so `npm test` never starts a browser.
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
    include: ['test/browser/**/*.test.{js,mjs}'],
    testTimeout: 60000,
    hookTimeout: 60000,
    pool: 'forks',
    fileParallelism: false,
    reporters: ['default']
  }
});
