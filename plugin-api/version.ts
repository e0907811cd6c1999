/**
 * The version of the plugin contract this host implements. Plugins declare the range they need as `host_api`
 * in `binding_card.yaml` or `config.yaml`; the loader refuses a range this version does not satisfy.
 *
 * Semver rule: the minor is bumped when the contract gains something optional (1.1.0 added chat, output
 * formats, sessions and tools), the major on any breaking change to the types in this folder. A plugin that
 * declares `^1.0.0` keeps loading on every 1.x host; a plugin that uses a 1.1 feature declares `^1.1.0`, so
 * that a 1.0 host refuses it instead of silently ignoring what it relies on.
 */
export const PLUGIN_API_VERSION = '1.1.0';
