import { expect } from 'chai';
import { stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SecurityBench, MARGIN_MS } from '../helpers.js';

/**
 * Class 10: the compile step. Builtins, packages (the host's own included), absolute paths, `../`, symlinks out,
 * loaders picked by file names or import attributes, dynamic imports and require() are refused at
 * add_personality with an error naming the import, and compiling reads nothing outside the personality folder.
 */
describe('security 10: compile step', function () {
  this.timeout(60_000);
  const bench = new SecurityBench(new URL('.', import.meta.url));
  let outsideTs = '';
  before(async () => {
    await bench.start();
    outsideTs = join(bench.zoo, 'outside.ts');
    await writeFile(outsideTs, `export default '${bench.secret}';`);
  });
  after(() => bench.stop());

  const cases: Array<[string, RegExp]> = [
    ['builtin', /import "node:fs": node builtins cannot be imported/],
    ['child-process', /import "child_process": node builtins cannot be imported/],
    ['package', /import "isolated-vm": packages cannot be imported/],
    ['host-package', /import "lollms-host": packages cannot be imported/],
    // Client-facing errors never carry an absolute path (issue 11), not even the import's own: the log has it.
    ['absolute', /import "<path>": absolute paths cannot be imported/],
    ['dotdot', /import "..\/..\/SECRET.txt": leaves the personality folder/],
    ['dotdot-ts', /import "..\/..\/outside.ts": leaves the personality folder/],
    ['symlink-out', /import ".\/link.ts": resolves \(through a symlink\) outside the personality folder/],
    ['text-loader', /import ".\/notes.txt"/],
    ['attribute-loader', /import attributes are not allowed/],
    ['dynamic-import', /import "node:fs": node builtins cannot be imported/],
    ['require-call', /import "fs": node builtins cannot be imported/],
    ['data-url', /packages cannot be imported/],
  ];
  for (const [name, expected] of cases) {
    it(`${name} → refused at compile time, naming the import; nothing outside is read`, async () => {
      const dir = await bench.writeCase(name, { files: { 'scripts/notes.txt': 'notes', 'scripts/data.json': '{}' } });
      if (name === 'symlink-out') await symlink(outsideTs, join(dir, 'scripts', 'link.ts'));
      // Access times set before modification times: any read of these files moves atime (relatime semantics).
      const past = new Date(Date.now() - 3_600_000);
      await utimes(bench.secretFile, past, new Date());
      await utimes(outsideTs, past, new Date());
      const before = [(await stat(bench.secretFile)).atimeMs, (await stat(outsideTs)).atimeMs];
      const failed = await bench.addFails(name);
      expect(failed.error).to.match(expected);
      expect(failed.error).to.match(/processor\.ts:\d+:\d+/);
      expect(failed.error).not.to.contain(bench.secret);
      expect(failed.ms).to.be.below(2_000 + MARGIN_MS);
      const after = [(await stat(bench.secretFile)).atimeMs, (await stat(outsideTs)).atimeMs];
      expect(after, 'a file outside the personality folder was read').to.deep.equal(before);
      await bench.expectContained(failed);
    });
  }
});
