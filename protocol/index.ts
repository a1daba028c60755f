/** The public protocol API: codecs, code tables and errors shared by broker, client and tools. */
export * from './request-code.js';
export * from './response-code.js';
export * from './errors.js';
export * from './remoting-command.js';
export * from './header-codec.js';
export * from './frame-codec.js';
export * from './properties.js';
export * from './socket-address.js';
export * from './message-codec.js';
export * from './message-id.js';
export * from './tag-filter.js';
export * from './send-header.js';
export * from './bodies.js';
export * from './admin-bodies.js';
export * from './batch-codec.js';
