import { expect } from 'chai';
import { codedRejection } from './helpers/assert.js';
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LollmsHostError } from '../core/errors.js';
import { isInside, resolveInside, splitRelativePath } from '../core/util/safe-path.js';


describe('safe-path', () => {
  let dir: string;
  let root: string;
  let outside: string;
  beforeEach(async () => {
    dir = await realpath(await mkdtemp(join(tmpdir(), 'lollms-safe-path-')));
    root = join(dir, 'root');
    outside = join(dir, 'outside');
    await mkdir(join(root, 'a', 'b c'), { recursive: true });
    await mkdir(outside, { recursive: true });
    await writeFile(join(root, 'a', 'b c', 'file.txt'), 'inside');
    await writeFile(join(outside, 'secret.txt'), 'secret');
    await writeFile(join(dir, 'sibling.txt'), 'sibling');
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('resolves a path inside the root to its real path, spaces included', async () => {
    expect(await resolveInside(root, 'a/b c/file.txt')).to.equal(join(root, 'a', 'b c', 'file.txt'));
    expect(await resolveInside(root, '')).to.equal(root);
  });

  it('works when the root itself is reached through a symlink', async () => {
    await symlink(root, join(dir, 'link-to-root'));
    expect(await resolveInside(join(dir, 'link-to-root'), 'a/b c/file.txt')).to.equal(join(root, 'a', 'b c', 'file.txt'));
  });

  for (const bad of ['..', '../sibling.txt', 'a/../../sibling.txt', 'a/./b c', 'a//b c', 'a/', '/etc/passwd', 'C:/Windows', 'C:x', 'a\\..\\..\\x', 'a/b c/file.txt\0.png']) {
    it(`refuses ${JSON.stringify(bad)} with PathOutsideRoot`, async () => {
      const error = await codedRejection(resolveInside(root, bad));
      expect(error.code).to.equal('LH_ERR_PATH_OUTSIDE_ROOT');
      expect(() => splitRelativePath(bad)).to.throw(LollmsHostError);
    });
  }

  it('refuses a symlink that leads outside the root, also as a middle segment', async () => {
    await symlink(join(outside, 'secret.txt'), join(root, 'a', 'leak.txt'));
    await symlink(outside, join(root, 'a', 'out'));
    expect((await codedRejection(resolveInside(root, 'a/leak.txt'))).code).to.equal('LH_ERR_PATH_OUTSIDE_ROOT');
    expect((await codedRejection(resolveInside(root, 'a/out/secret.txt'))).code).to.equal('LH_ERR_PATH_OUTSIDE_ROOT');
    expect((await codedRejection(resolveInside(root, 'a/out'))).code).to.equal('LH_ERR_PATH_OUTSIDE_ROOT');
  });

  it('follows a symlink that stays inside the root', async () => {
    await symlink(join(root, 'a', 'b c'), join(root, 'alias'));
    expect(await resolveInside(root, 'alias/file.txt')).to.equal(join(root, 'a', 'b c', 'file.txt'));
  });

  it('reports a missing target or root as PathNotFound', async () => {
    expect((await codedRejection(resolveInside(root, 'a/nope.txt'))).code).to.equal('LH_ERR_PATH_NOT_FOUND');
    expect((await codedRejection(resolveInside(join(dir, 'no-root'), 'x'))).code).to.equal('LH_ERR_PATH_NOT_FOUND');
  });

  it('with mustExist: false checks the deepest existing ancestor', async () => {
    expect(await resolveInside(root, 'a/new/deeper.txt', { mustExist: false })).to.equal(join(root, 'a', 'new', 'deeper.txt'));
    await symlink(outside, join(root, 'out'));
    const error = await codedRejection(resolveInside(root, 'out/new.txt', { mustExist: false }));
    expect(error.code).to.equal('LH_ERR_PATH_OUTSIDE_ROOT');
  });

  it('isInside does not confuse a sibling sharing a name prefix', () => {
    expect(isInside('/x/root', '/x/root')).to.equal(true);
    expect(isInside('/x/root', '/x/root/a')).to.equal(true);
    expect(isInside('/x/root', '/x/rootish/a')).to.equal(false);
    expect(isInside('/x/root', '/x')).to.equal(false);
  });
});
