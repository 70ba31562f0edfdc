// The browser suite's own config (`npm run test:browser`): headless Chromium is slow to start and
// needs the whole machine's attention. The root config excludes test/browser/ so `npm test` never
// starts a browser.
import { ownSuiteConfig } from '../helpers/suite-config.mjs';

export default ownSuiteConfig('browser');
