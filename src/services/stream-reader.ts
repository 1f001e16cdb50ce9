// Moved to services/streams/; kept until the tests that import this path are updated.
export * from './streams/stream-reader.js';
