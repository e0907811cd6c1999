/**
 * The programmatic API of lollms-host: start a host in-process (the tests and embedding applications use it).
 */
export { startHost, Host, TINY_MODEL_NAME, type HostOptions, type HostHandle, type HostPaths } from './host.js';
export { ConfigStore, CONFIG_KEYS, CONFIG_VERSION, defaultConfig, type HostConfig, type ConfigKey, type ConfigSource } from './config.js';
export { LollmsHostError } from './errors.js';
export { writeTestModel } from './bindings/test-model.js';
export type * from './protocol/index.js';
export { WIRE_TEXT } from './protocol/index.js';
