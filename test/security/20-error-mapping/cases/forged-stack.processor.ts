// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
// Throws an error whose stack it wrote itself: frames that name host files, the bundle's own script with
// absurd positions, function names that carry paths, newlines and escapes. Mapping must read no file, name
// no path the guest gave and stay small.
export default { async runWorkflow(input) {
  const secretPath = input.prompt;
  const bundle = 'file:///personalities/forged-stack/scripts/processor.js';
  const frames = [
    `    at readSecret (${secretPath}:1:1)`,
    `    at ${secretPath}:2:2`,
    `    at load (file://${secretPath}:3:3)`,
    `    at hop (${bundle.replace('scripts/processor.js', '../../../' + secretPath)}:1:1)`,
    `    at ${secretPath.replace(/\//g, '.')} (${bundle}:5:1)`,
    `    at evil\u001b[31m (${bundle}:5:1)`,
    `    at huge (${bundle}:999999999:999999999)`,
    `    at zero (${bundle}:0:0)`,
    `    at negative (${bundle}:-4:-2)`,
    `    at (${bundle}:5:1)`,
    `    at ${'a'.repeat(5000)} (${bundle}:5:1)`,
    ...Array.from({ length: 300 }, (_, i) => `    at many${i} (${bundle}:${i}:${i})`),
  ];
  const error = new Error('forged');
  Object.defineProperty(error, 'stack', { value: `Error: forged\n${frames.join('\n')}` });
  throw error;
} };
