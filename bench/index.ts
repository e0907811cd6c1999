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
console.log('# OpenAI-compatible API (official SDK, streaming chat) vs bare node-llama-cpp LlamaChat');
const { runOpenAIBench } = await import('./openai.js');
await runOpenAIBench();
console.log('# openai_remote: a stream through a front host and its openai_remote binding vs the same engine host called directly');
const { runRemoteBench } = await import('./remote.js');
await runRemoteBench();
console.log('# llama_cpp chat vs bare node-llama-cpp LlamaChat');
const { runChatBench } = await import('./chat.js');
await runChatBench();
console.log('# session isolation: what a client\'s next turn costs when another client took its sequence');
const { runSessionBench } = await import('./session.js');
await runSessionBench();
console.log('# hot reload: processor edit to serving');
const { runReloadBench } = await import('./reload.js');
await runReloadBench();
console.log('# parallel: 4 clients on 4 slots vs a bare 4-sequence loop, and vs 1 client on 1 slot');
const { runParallelBench } = await import('./parallel.js');
await runParallelBench();
console.log('# scale: first request to an idle personality, memory per mounted processor personality');
const { runScaleBench } = await import('./scale.js');
await runScaleBench();
