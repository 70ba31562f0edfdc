// The config of a suite that runs on its own (`npm run test:browser`, `npm run test:java`) because
// it needs a program `npm test` does not (a browser, a JDK): one file at a time, long timeouts,
// rooted at the repository so paths in output read as in `npm test`. The root config excludes
// those directories.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { defineConfig } from 'vitest/config';

const root = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  '..'
);

/**
 * @param {string} directory the suite's directory under test/
 * @return {Object} a vitest config
 */
export function ownSuiteConfig(directory) {
  return defineConfig({
    test: {
      root,
      include: [`test/${directory}/**/*.test.{js,mjs}`],
      testTimeout: 60000,
      hookTimeout: 60000,
      pool: 'forks',
      fileParallelism: false,
      reporters: ['default']
    }
  });
}
