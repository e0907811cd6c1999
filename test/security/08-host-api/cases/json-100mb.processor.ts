// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
export default { async runWorkflow(input, ctx) { const rows = []; for (let i = 0; i < 1e6; i++) rows.push({ i, text: 'x'.repeat(100) }); ctx.json('big', rows); return 'sent'; } };
