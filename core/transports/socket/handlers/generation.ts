import { WIRE_TEXT } from '../../../protocol/index.js';
import { startGeneration } from '../../../generation/run.js';
import type { HandlerMap, Handler } from '../dispatch.js';

/** Both cancel names answer at once, whether or not anything runs (lollms-reference §1.3.17, §1.4). */
function cancel<E extends 'cancel_generation' | 'cancel_text_generation'>(): Handler<E> {
  return {
    failure: () => ['generation_canceled', { message: WIRE_TEXT.canceled }],
    run(ctx) {
      ctx.client.cancel();
      ctx.reply('generation_canceled', { message: WIRE_TEXT.canceled });
    },
  };
}

export const generationHandlers: HandlerMap = {
  generate_text: {
    failure: (error) => ['generation_error', { error }],
    run: (ctx, data) => startGeneration(ctx, data),
  },
  cancel_generation: cancel(),
  cancel_text_generation: cancel(),
};
