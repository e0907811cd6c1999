import { installModel, resolveInstallRequest, installSourceFromUrl } from '../../../bindings/install.js';
import { InstallCanceled } from '../../../bindings/installs.js';
import { clientInstallLimits } from '../../../bindings/client-install.js';
import { NoBindingSelected, errorMessage } from '../../../errors.js';
import { clientErrorText } from '../../../protocol/client-error.js';
import { echo } from '../../../protocol/echo.js';
import { rawField, type HandlerMap } from '../dispatch.js';

const filenameOf = (raw: unknown) => {
  const name = rawField(raw, 'filename');
  return typeof name === 'string' ? { filename: echo(name) } : {};
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
      const plugin = ctx.deps.bindings.activePlugin;
      if (!plugin) throw NoBindingSelected('No binding selected: select a binding before installing a model');
      const request = {
        ...(data.filename !== undefined ? { filename: data.filename } : {}),
        ...(data.url !== undefined ? { url: data.url } : {}),
        ...(data.path !== undefined ? { path: data.path } : {}),
        ...(data.sha256 !== undefined ? { sha256: data.sha256 } : {}),
      };
      const source = resolveInstallRequest(request, plugin.models);
      const controller = ctx.deps.installs.start(source.filename, ctx.client.id);
      try {
        const filename = echo(source.filename);
        const url = echo(source.url, 2048);
        await installModel({
          source,
          modelsDir: ctx.deps.bindings.modelsDir(plugin.name),
          signal: controller.signal,
          onProgress: (p) => ctx.emit('install_progress', { filename, url, ...p }),
          // A client's install: public addresses only, size and disk caps (issue 11).
          ...clientInstallLimits(ctx.deps.installConfig(), source),
        });
        // The file name in the binding's models folder; never the server's absolute path.
        ctx.deps.logger.info({ client: ctx.client.id, binding: plugin.name, filename: source.filename }, `model installed: ${source.filename}`);
        ctx.reply('model_installed', { success: true, filename, path: `${plugin.name}/${filename}` });
      } catch (error) {
        // A client that cancelled its own install already got its answer from cancel_install.
        const reason: unknown = controller.signal.reason;
        const cause = (error as { cause?: unknown }).cause;
        ctx.deps.logger.info({ client: ctx.client.id, binding: plugin.name, filename: source.filename, url: source.url, err: errorMessage(error), cause: cause === undefined ? undefined : errorMessage(cause) }, `model not installed: ${source.filename}`);
        if (reason instanceof InstallCanceled && reason.by === ctx.client.id) return;
        const message = reason instanceof InstallCanceled ? reason.message : clientErrorText(error);
        ctx.reply('model_installed', { success: false, filename: echo(source.filename), error: message });
      } finally {
        ctx.deps.installs.finish(source.filename, controller);
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
      const starter = await ctx.deps.installs.cancel(filename, ctx.client.id);
      ctx.reply('model_installed', {
        success: false,
        filename: echo(filename),
        error: starter === undefined ? `no install of "${echo(filename)}" is in progress` : 'Install canceled',
      });
    },
  },
};
