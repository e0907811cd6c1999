// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
// Paths that lead outside the personality zoo, or nowhere: each must be a coded error naming no server path.
export default { async runWorkflow(input, ctx) {
  const out = [];
  const tryIt = async (label, path) => {
    try { out.push([label, 'ok: ' + (await ctx.callPersonality(path, 'x'))]); } catch (e) { out.push([label, (e.code ?? e.name) + ': ' + e.message]); }
  };
  await tryIt('parent folders', '../../..');
  await tryIt('the secret file', '../SECRET.txt');
  await tryIt('an absolute path', '/etc');
  await tryIt('the data dir', '../../../../../../../../tmp');
  await tryIt('no such personality', 'sec/does-not-exist');
  await tryIt('a NUL byte', 'sec/relay-1\u0000');
  await tryIt('blank', '   ');
  await tryIt('a path of 5000 characters', 'a/'.repeat(2500));
  return JSON.stringify(out);
} };
