// The Java interop suite's own config (`npm run test:java`): each test starts a JVM. The root
// config excludes test/java/ so `npm test` needs no JDK.
import { ownSuiteConfig } from '../helpers/suite-config.mjs';

export default ownSuiteConfig('java');
