/**
 * node-llama-cpp 3.21.1's JSON grammars write numbers as `"-"? ("0" | [1-9] [0-9]{0,15})` with an optional
 * exponent of up to 16 digits, for integers too. So a grammar-constrained model can write `5e28856853`
 * (which parses as Infinity, valid for no schema) or an "integer" `5e-3`; the random test models do, about
 * one number in five, and node-llama-cpp then rejects its own forced tool call. This patch bounds the
 * grammar: integers have no exponent, other numbers an exponent of at most two digits, so every number the
 * grammar allows parses to a finite value of the right kind. It rewrites the rule that every JSON grammar of
 * node-llama-cpp is built from (formats and function-call parameters alike), once per process.
 *
 * The class is not exported, so it is reached by its file in the host's node-llama-cpp (version pinned
 * exactly in package.json). If the layout ever differs, the patch reports that and grammars stay as they are.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { PluginLogger } from 'lollms-host/plugin-api';

const INTEGER = '"-"? ("0" | [1-9] [0-9]{0,15})';
const FRACTIONAL = `${INTEGER} ("." [0-9]{1,16})? ([eE] [-+]? [0-9]{1,2})?`;

let applied: Promise<boolean> | undefined;

/**
 * Patch node-llama-cpp's JSON number grammar (idempotent). `folder` is a folder inside the host package (the
 * binding's own), from which the host's node-llama-cpp resolves. Resolves whether the patch is in place.
 */
export function patchJsonNumberGrammar(folder: string, logger?: PluginLogger): Promise<boolean> {
  applied ??= (async () => {
    try {
      const entry = createRequire(join(folder, 'index.js')).resolve('node-llama-cpp');
      const file = join(dirname(entry), 'utils', 'gbnfJson', 'terminals', 'GbnfNumber.js');
      const { GbnfNumber } = (await import(pathToFileURL(file).href)) as { GbnfNumber?: { prototype: { getGrammar?: unknown; allowFractional?: boolean } } };
      if (typeof GbnfNumber?.prototype.getGrammar !== 'function') throw new Error('GbnfNumber.getGrammar not found');
      Object.defineProperty(GbnfNumber.prototype, 'getGrammar', {
        value: function getGrammar(this: { allowFractional: boolean }) {
          return this.allowFractional ? FRACTIONAL : INTEGER;
        },
        writable: true,
        configurable: true,
      });
      return true;
    } catch (error) {
      logger?.warn({ err: error instanceof Error ? error.message : String(error) }, 'cannot bound node-llama-cpp\'s JSON number grammar: constrained numbers may overflow');
      return false;
    }
  })();
  return applied;
}
