// @ts-nocheck -- hostile processor of the adversarial suite (test/security): floods the host log.
export default {
  async runWorkflow(input, ctx) {
    const lines = Number(input.prompt);
    const long = 'L'.repeat(100_000);
    ctx.log(long);
    for (let i = 0; i < lines; i++) console.log('flood line ' + i);
    return 'flooded';
  },
};
