// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
// Lets V8 build the stack of a real bug through its own Error.prepareStackTrace, which returns frames that
// point at host files and a frame at the bundle's first line (plugin-api's code or esbuild's helpers).
export default { async runWorkflow(input) {
  const secretPath = input.prompt;
  Error.stackTraceLimit = Infinity;
  Error.prepareStackTrace = (error, sites) =>
    [
      `${error.name}: ${error.message}`,
      `    at host (${secretPath}:1:1)`,
      `    at node:internal/fs (node:fs:1:1)`,
      `    at bootstrap (lollms-host:bootstrap:1:1)`,
      `    at first (file:///personalities/prepare-stack/scripts/processor.js:1:1)`,
      ...sites.map((s) => `    at ${s.getFunctionName() ?? 'anon'} (${s.getFileName()}:${s.getLineNumber()}:${s.getColumnNumber()})`),
    ].join('\n');
  const deep = (n) => (n === 0 ? undefined.boom : deep(n - 1));
  deep(500);
} };
