// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
// MARKER-OF-VICTIM-CODE: a string only the victim's compiled code contains.
let calls = 0;
export default {
  settings: { api_token: { type: 'str', value: 'default-token' } },
  async runWorkflow(input, ctx) {
    calls++;
    return JSON.stringify({ calls, prompt: input.prompt, previous: input.previousDiscussion, token: ctx.settings.api_token === 'default-token' ? 'default' : 'set' });
  },
};
