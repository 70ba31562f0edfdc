// Options for the native FrameParser (and NativeSocket#createParser) in tests that are not about
// limits or extensions: a server's parser with every limit off.

export const UNLIMITED_SERVER_PARSER = Object.freeze({
  isServer: true,
  maxPayload: 0,
  maxFragments: 0,
  maxBufferedChunks: 0,
  skipUTF8Validation: false,
  perMessageDeflate: false
});
