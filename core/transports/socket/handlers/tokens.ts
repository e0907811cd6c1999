import type { HandlerMap, HandlerContext } from '../dispatch.js';
import type { ActiveModel } from '../../../bindings/manager.js';

/** Run `task` with a lease on the current model (tokens events run beside generations, as in the original). */
export async function withModel<T>(ctx: Pick<HandlerContext, 'host'>, task: (model: ActiveModel) => Promise<T>): Promise<T> {
  const lease = ctx.host.bindings.requireModel();
  try {
    return await task(lease.value);
  } finally {
    lease.release();
  }
}

const failure = <E extends 'tokenized' | 'detokenized' | 'embeded'>(event: E) =>
  (error: string) => [event, { success: false as const, error }] as never;

export const tokenHandlers: HandlerMap = {
  tokenize: {
    failure: failure('tokenized'),
    async run(ctx, data) {
      const tokens = await withModel(ctx, (m) => m.model.tokenize(data.prompt));
      ctx.reply('tokenized', { tokens });
    },
  },
  detokenize: {
    failure: failure('detokenized'),
    async run(ctx, data) {
      const text = await withModel(ctx, (m) => m.model.detokenize(data.prompt));
      ctx.reply('detokenized', { text });
    },
  },
  embed: {
    failure: failure('embeded'),
    async run(ctx, data) {
      const vector = await withModel(ctx, async (m) => {
        if (!m.model.embed) throw new Error(`the binding "${m.binding}" cannot embed`);
        return m.model.embed(data.prompt);
      });
      ctx.reply('embeded', { text: vector });
    },
  },
};
