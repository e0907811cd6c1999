import { installModel, resolveInstallRequest, installSourceFromUrl } from '../bindings/install.js';
import { InstallCanceled } from '../bindings/installs.js';
import { NoBindingSelected, errorMessage } from '../errors.js';
import { rawField, type HandlerMap } from './dispatch.js';

const filenameOf = (raw: unknown) => {
  const name = rawField(raw, 'filename');
  return typeof name === 'string' ? { filename: name } : {};
};

/**
 * `install_model {filename | url | path, sha256?}` (ours, in the original's style): downloads into the active
 * binding's models dir with `install_progress` events, then one `model_installed`. `cancel_install` stops it and
 * answers `model_installed {success: false, error: "Install canceled"}` (the client that started it, when
 * another one, gets the same).
 */
export const installHandlers: HandlerMap = {
  install_model: {
    failure: (error, raw) => ['model_installed', { success: false, error, ...filenameOf(raw) }],
    async run(ctx, data) {
      const plugin = ctx.host.bindings.activePlugin;
      if (!plugin) throw NoBindingSelected('No binding selected: select a binding before installing a model');
      const request = {
        ...(data.filename !== undefined ? { filename: data.filename } : {}),
        ...(data.url !== undefined ? { url: data.url } : {}),
        ...(data.path !== undefined ? { path: data.path } : {}),
        ...(data.sha256 !== undefined ? { sha256: data.sha256 } : {}),
      };
      const source = resolveInstallRequest(request, plugin.models);
      const controller = ctx.host.installs.start(source.filename, ctx.client.id);
      try {
        const result = await installModel({
          source,
          modelsDir: ctx.host.bindings.modelsDir(plugin.name),
          signal: controller.signal,
          onProgress: (p) => ctx.emit('install_progress', { filename: source.filename, url: source.url, ...p }),
        });
        ctx.host.logger.info({ client: ctx.client.id, binding: plugin.name, filename: source.filename, path: result.path }, `model installed: ${source.filename}`);
        ctx.reply('model_installed', { success: true, filename: source.filename, path: result.path });
      } catch (error) {
        // A client that cancelled its own install already got its answer from cancel_install.
        const reason: unknown = controller.signal.reason;
        const message = reason instanceof InstallCanceled ? reason.message : errorMessage(error);
        ctx.host.logger.info({ client: ctx.client.id, binding: plugin.name, filename: source.filename, err: message }, `model not installed: ${source.filename}`);
        if (reason instanceof InstallCanceled && reason.by === ctx.client.id) return;
        ctx.reply('model_installed', { success: false, filename: source.filename, error: message });
      } finally {
        ctx.host.installs.finish(source.filename, controller);
      }
    },
  },
  cancel_install: {
    failure: (error, raw) => ['model_installed', { success: false, error, ...filenameOf(raw) }],
    async run(ctx, data) {
      let filename = data.filename;
      const url = data.url ?? data.path;
      if (filename === undefined && url !== undefined) filename = installSourceFromUrl(url).filename;
      if (filename === undefined) throw new Error('cancel_install needs a filename or a url');
      const starter = await ctx.host.installs.cancel(filename, ctx.client.id);
      ctx.reply('model_installed', {
        success: false,
        filename,
        error: starter === undefined ? `no install of "${filename}" is in progress` : 'Install canceled',
      });
    },
  },
};
