import type { LoadedModel } from '../../../../plugin-api/index.js';
import type { ActiveModel } from '../../../bindings/manager.js';
import { EmbeddingUnsupported, TokenizerUnavailable } from '../../../errors.js';
import type { HandlerMap, HandlerContext } from '../dispatch.js';

/**
 * Run `task` with a lease on the current model (tokens events run beside generations, as in the original). A
 * model that `keep_alive` unloaded is loaded again first, as for a generation.
 */
async function withModel<T>(ctx: Pick<HandlerContext, 'deps'>, task: (model: ActiveModel) => Promise<T>): Promise<T> {
  const leave = ctx.deps.bindings.holdResident();
  try {
    await ctx.deps.bindings.whenReady();
    const lease = ctx.deps.bindings.requireModel();
    try {
      return await task(lease.value);
    } finally {
      lease.release();
    }
  } finally {
    leave();
  }
}

/** The model's tokenizer, or a clear error for a binding that cannot tokenize (plugin API 1.1). */
function tokenizer(m: ActiveModel, operation: 'tokenize' | 'detokenize'): Required<Pick<LoadedModel, 'tokenize' | 'detokenize'>> {
  const { tokenize, detokenize } = m.model;
  if (!tokenize || !detokenize) throw TokenizerUnavailable(`the binding "${m.binding}" cannot ${operation}: its model has no tokenizer the host can reach`);
  return { tokenize: tokenize.bind(m.model), detokenize: detokenize.bind(m.model) };
}

const failure = <E extends 'tokenized' | 'detokenized' | 'embeded'>(event: E) =>
  (error: string) => [event, { success: false as const, error }] as never;

export const tokenHandlers: HandlerMap = {
  tokenize: {
    failure: failure('tokenized'),
    async run(ctx, data) {
      const tokens = await withModel(ctx, (m) => tokenizer(m, 'tokenize').tokenize(data.prompt));
      ctx.reply('tokenized', { tokens });
    },
  },
  detokenize: {
    failure: failure('detokenized'),
    async run(ctx, data) {
      const text = await withModel(ctx, (m) => tokenizer(m, 'detokenize').detokenize(data.prompt));
      ctx.reply('detokenized', { text });
    },
  },
  embed: {
    failure: failure('embeded'),
    async run(ctx, data) {
      const vector = await withModel(ctx, async (m) => {
        if (!m.model.embed) throw EmbeddingUnsupported(`the binding "${m.binding}" cannot embed`);
        return m.model.embed(data.prompt);
      });
      ctx.reply('embeded', { text: vector });
    },
  },
};
