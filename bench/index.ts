/**
 * `npm run bench`: every benchmark, each printing `name: value` lines with ratios against a baseline measured
 * in the same run (never absolute goals in tests).
 */
import { runBindingBench } from './binding.js';
import { runSocketBench } from './socket.js';

console.log('# llama_cpp binding vs bare node-llama-cpp');
await runBindingBench();
console.log('# socket.io path vs bare node-llama-cpp');
await runSocketBench();
console.log('# hot reload: processor edit to serving');
const { runReloadBench } = await import('./reload.js');
await runReloadBench();
