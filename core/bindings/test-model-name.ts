/**
 * The file name of the random-weight test model the host writes on a fresh install. A leaf module (no imports),
 * so that the host, the HTTP routes and the browser console share it without importing host.ts.
 */
export const TEST_MODEL_NAME = 'tiny-random-llama.gguf';
