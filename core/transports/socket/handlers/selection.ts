import { WIRE_TEXT } from '../../../protocol/index.js';
import { clientErrorText } from '../../../protocol/client-error.js';
import { echo } from '../../../protocol/echo.js';
import { rawField, type HandlerMap } from '../dispatch.js';

/** A name the client sent, as a reply may echo it (bounded, issue 11). */
const asString = (v: unknown) => echo(v);

export const selectionHandlers: HandlerMap = {
  select_binding: {
    failure: (error, raw) => ['select_binding', { success: false, binding_name: asString(rawField(raw, 'binding_name')), error }],
    async run(ctx, data) {
      const name = data.binding_name;
      try {
        await ctx.deps.selection.selectBinding(name);
      } catch (error) {
        ctx.reply('select_binding', { success: false, binding_name: echo(name), error: `Couldn't load binding:\n${clientErrorText(error)}` });
        return;
      }
      ctx.reply('select_binding', { success: true, binding_name: echo(name) });
    },
  },
  select_model: {
    failure: (error, raw) => ['select_model', { success: false, model_name: asString(rawField(raw, 'model_name')), error }],
    async run(ctx, data) {
      const name = data.model_name;
      if (!ctx.deps.bindings.activeBinding) {
        ctx.reply('select_model', { success: false, model_name: echo(name), error: `${WIRE_TEXT.noBinding}: please select a binding first` });
        return;
      }
      let last = -1;
      await ctx.deps.selection.selectModel(name, (progress) => {
        // Progress events are throttled to whole percents.
        const pct = Math.floor(progress * 100);
        if (pct === last) return;
        last = pct;
        ctx.emit('model_loading_progress', { model_name: echo(name), progress });
      });
      ctx.reply('select_model', { success: true, model_name: echo(name) });
    },
  },
};
