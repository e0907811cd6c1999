/**
 * The file name of the random-weight test model the host writes on a fresh install. A leaf module (no imports),
 * so that the HTTP routes and the browser console can use it without importing host.ts.
 * TODO(lead): host.ts's `TINY_MODEL_NAME` should re-export this constant.
 */
export const TEST_MODEL_NAME = 'tiny-random-llama.gguf';
