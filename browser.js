'use strict';

/**
 * The `browser` entry point: ws-native, like ws, needs Node's net, http and
 * native addons, so bundling it for a browser yields a function that throws.
 *
 * @throws {Error} Always
 */
module.exports = function () {
  throw new Error(
    'ws does not work in the browser. Browser clients must use the native ' +
      'WebSocket object'
  );
};
