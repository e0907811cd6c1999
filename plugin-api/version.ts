/**
 * The version of the plugin contract this host implements. Plugins declare the range they need as `host_api`
 * (e.g. `"^1.0.0"`) in `binding_card.yaml` or `config.yaml`; the loader refuses a range this version does not
 * satisfy. Bump the major on any breaking change to the types in this folder.
 */
export const PLUGIN_API_VERSION = '1.0.0';
