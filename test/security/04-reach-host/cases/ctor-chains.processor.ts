// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
import { attempt, chains, done, setSecretPath, viaConstructor } from './kit.js';
export default { async runWorkflow(input, ctx) {
  setSecretPath(input.prompt);
  viaConstructor('this.constructor.constructor', this.constructor.constructor);
  chains('this', this);
  chains('ctx', ctx);
  for (const key of Object.keys(ctx)) chains('ctx.' + key, ctx[key]);
  chains('ctx.settings', ctx.settings);
  chains('ctx.personality', ctx.personality);
  chains('ctx.signal', ctx.signal);
  chains('input', input);
  chains('globalThis', globalThis);
  chains('console.log', console.log);
  chains('async fn', async () => {});
  chains('generator', function* () {});
  chains('async generator', async function* () {});
  chains('class', class {});
  chains('bound', (() => 1).bind(null));
  viaConstructor('Function', Function);
  viaConstructor('Reflect.construct(Function)', (...a) => Reflect.construct(Function, a));
  attempt('eval', () => eval('process'));
  attempt('indirect eval', () => (0, globalThis['ev' + 'al'])('process'));
  return done();
} };
