/**
 * The default binding: GGUF models through node-llama-cpp, on the host's one shared llama.cpp engine.
 *
 * Models are the `*.gguf` files of the binding's models dir, plus `<name>.reference` text files holding the
 * absolute path of a GGUF elsewhere (the original LoLLMs convention).
 */
import { open, readdir, stat } from 'node:fs/promises';
import { basename, isAbsolute, join } from 'node:path';
import { defineBinding, type BindingContext, type LoadModelRequest, type ModelFile } from 'lollms-host/plugin-api';
import { BindingError, messageOf } from './errors.js';
import { checkGguf } from './gguf-check.js';
import { patchJsonNumberGrammar } from './json-number-patch.js';
import { LlamaCppModel } from './model.js';

const GGUF = '.gguf';
const REFERENCE = '.reference';

/**
 * The absolute path a `.reference` file points to (its first non-empty line), or undefined. Only a `.gguf`
 * target counts: a reference is the operator's way to use a model kept elsewhere, never a way to make the host
 * open any file. Only the first 4 KiB are read.
 */
async function readReference(file: string): Promise<string | undefined> {
  const handle = await open(file, 'r').catch(() => undefined);
  if (!handle) return undefined;
  let text: string;
  try {
    const buffer = Buffer.alloc(4096);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    text = buffer.subarray(0, bytesRead).toString('utf8');
  } finally {
    await handle.close().catch(() => {});
  }
  const target = text.split(/\r?\n/).map((l) => l.trim()).find((l) => l !== '');
  return target && isAbsolute(target) && target.toLowerCase().endsWith(GGUF) ? target : undefined;
}

const sizeOf = (path: string) => stat(path).then((s) => (s.isFile() ? s.size : 0), () => 0);

async function listModels(ctx: BindingContext): Promise<ModelFile[]> {
  const entries = await readdir(ctx.modelsDir).catch(() => [] as string[]);
  const models: ModelFile[] = [];
  for (const name of entries.sort()) {
    if (name.startsWith('.')) continue; // temp files of installs and atomic writes
    const path = join(ctx.modelsDir, name);
    if (name.endsWith(GGUF)) {
      const size = await stat(path).then((s) => (s.isFile() ? s.size : -1), () => -1);
      if (size >= 0) models.push({ name, path, kind: 'file', size });
    } else if (name.endsWith(REFERENCE)) {
      const target = await readReference(path);
      if (target === undefined) {
        ctx.logger.warn({ file: path }, 'ignoring a .reference file that does not hold the absolute path of a .gguf file');
        continue;
      }
      models.push({ name, path: target, kind: 'reference', size: await sizeOf(target) });
    }
  }
  return models;
}

/** The GGUF path behind a model name; the name must be a plain file name in the models dir. */
async function resolveModel(ctx: BindingContext, name: string): Promise<string> {
  if (name === '' || basename(name) !== name || name === '.' || name === '..' || name.includes('\\')) {
    throw new BindingError('LH_ERR_MODEL_NOT_FOUND', `model "${name}" is not a file name in the models folder`);
  }
  const path = join(ctx.modelsDir, name);
  if (name.endsWith(REFERENCE)) {
    if (!(await stat(path).then((s) => s.isFile(), () => false))) {
      throw new BindingError('LH_ERR_MODEL_NOT_FOUND', `model ${name} not found in the models folder`);
    }
    const target = await readReference(path);
    if (target === undefined) throw new BindingError('LH_ERR_MODEL_NOT_FOUND', `model ${name}: the reference file does not hold the absolute path of a .gguf file`);
    return target;
  }
  if (!name.endsWith(GGUF)) throw new BindingError('LH_ERR_MODEL_NOT_FOUND', `model ${name}: not a ${GGUF} or ${REFERENCE} file`);
  return path;
}

/** `gpu_layers` from the binding settings: a count, `auto` or `max`; 0 when the GPU is off. */
function gpuLayers(ctx: BindingContext): number | 'auto' | 'max' {
  if (!ctx.gpu) return 0;
  const value = ctx.settings['gpu_layers'];
  if (value === 'auto' || value === 'max') return value;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
  // The setting is a str (it also takes "auto" and "max"): a count arrives as digits.
  if (typeof value === 'string' && /^\d{1,4}$/.test(value.trim())) return Number(value.trim());
  return 'auto';
}

function aborted(name: string, cause?: unknown): BindingError {
  return new BindingError('LH_ERR_CANCELLED', `loading model ${name} was cancelled`, { cause });
}

async function loadModel(ctx: BindingContext, request: LoadModelRequest): Promise<LlamaCppModel> {
  const { signal } = request;
  const name = request.model;
  let last = -1;
  // Monotonic 0 → 1: model weights take the first 90 %, the context the rest.
  const progress = (value: number) => {
    if (value <= last) return;
    last = value;
    request.onProgress?.(value);
  };
  if (signal?.aborted) throw aborted(name, signal.reason);
  progress(0);
  const path = await resolveModel(ctx, name);
  await checkGguf(path, name, signal);
  if (signal?.aborted) throw aborted(name, signal.reason);

  const llama = await ctx.getLlama();
  await patchJsonNumberGrammar(ctx.folder, ctx.logger);
  let model;
  try {
    model = await llama.loadModel({
      modelPath: path,
      gpuLayers: gpuLayers(ctx),
      onLoadProgress: (p) => progress(Math.min(0.9, p * 0.9)),
      ...(signal ? { loadSignal: signal } : {}),
    });
  } catch (error) {
    if (signal?.aborted) throw aborted(name, error);
    throw new BindingError('LH_ERR_MODEL_LOAD', `model ${name} failed to load: ${messageOf(error)}`, { cause: error });
  }
  let context;
  try {
    context = await model.createContext({
      contextSize: request.contextSize,
      sequences: Math.max(1, request.sequences),
      threads: Math.max(1, request.threads),
      ...(signal ? { createSignal: signal } : {}),
    });
  } catch (error) {
    await model.dispose().catch(() => {});
    if (signal?.aborted) throw aborted(name, error);
    throw new BindingError('LH_ERR_MODEL_LOAD', `model ${name}: cannot create a context of ${request.contextSize} tokens: ${messageOf(error)}`, { cause: error });
  }
  const loaded = new LlamaCppModel({ name, path, llama, model, context, threads: Math.max(1, request.threads), logger: ctx.logger });
  if (signal?.aborted) {
    await loaded.dispose();
    throw aborted(name, signal.reason);
  }
  progress(1);
  ctx.logger.info({ model: name, path, contextSize: loaded.contextSize, sequences: request.sequences, gpuLayers: model.gpuLayers, chatWrapper: loaded.chatWrapperName }, 'model loaded');
  return loaded;
}

export default defineBinding({ listModels, loadModel });
