import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createError, LollmsHostError } from '../core/errors.js';
import { indentFlowContinuations, parseYaml } from '../core/util/yaml.js';
import { editDistance, nearest } from '../core/util/nearest.js';
import { listPersonalities } from '../core/personalities/zoo.js';
import { parsePersonalityConfig } from '../core/personalities/config.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/pyyaml-zoo/', import.meta.url));
const Syntax = createError('LH_ERR_CONFIG_SYNTAX');

const pyyaml = (text: string) => parseYaml(text, { file: '/x/config.yaml', syntaxError: Syntax, pyyaml: true });
const strict = (text: string) => parseYaml(text, { file: '/x/config.yaml', syntaxError: Syntax });

function syntaxError(run: () => unknown): LollmsHostError {
  try {
    run();
  } catch (error) {
    if (error instanceof LollmsHostError) return error;
    throw error;
  }
  throw new Error('expected a syntax error');
}

describe('core/util/yaml', () => {
  describe('PyYAML compatibility (issue 20: the whole zoo)', () => {
    it('reads a quoted value whose continuation line starts at column 0 as PyYAML does', () => {
      const parsed = pyyaml("name: x\nlink_text: '\n'\nuser_message_prefix: \"a\nb\"\n");
      expect(parsed.value).to.deep.equal({ name: 'x', link_text: ' ', user_message_prefix: 'a b' });
      expect(parsed.oddities.map((o) => o.line)).to.deep.equal([3, 5]);
      expect(parsed.oddities[0]!.message).to.contain('PyYAML');
    });

    it('keeps the strict reading (an error with line and column) without pyyaml', () => {
      const error = syntaxError(() => strict("link_text: '\n'\n"));
      expect(error.code).to.equal('LH_ERR_CONFIG_SYNTAX');
      expect(error.line).to.equal(1);
      expect(error.column).to.be.a('number');
      expect(error.message).to.match(/^\/x\/config\.yaml:1:\d+: YAML syntax error: /);
    });

    it('re-indents only continuation lines, leaving block scalars, comments and quotes inside plain text alone', () => {
      const text = [
        "a: 'it''s",
        "fine'",
        'b: |',
        "  x: '",
        'c: [1,',
        '2, "three',
        '3"]  # a comment',
        "d: don't: touch",
        '- e',
        '',
      ].join('\n');
      const fixed = indentFlowContinuations(text);
      expect(fixed.lines).to.deep.equal([2, 6, 7]);
      expect(fixed.text.split('\n')).to.deep.equal(["a: 'it''s", " fine'", 'b: |', "  x: '", 'c: [1,', ' 2, "three', ' 3"]  # a comment', "d: don't: touch", '- e', '']);
    });

    it('needs deeper indentation under nested keys and list items', () => {
      expect(pyyaml("x:\n  - k: 'a\n  b'\n").value).to.deep.equal({ x: [{ k: 'a b' }] });
      expect(pyyaml("x:\n  - 'a\n  b'\n").value).to.deep.equal({ x: ['a b'] });
    });

    it('leaves the last line break out of a block scalar that ends the file without one', () => {
      expect(pyyaml('a: 1\nhelp: |\n  one\n  two').value).to.deep.equal({ a: 1, help: 'one\ntwo' });
      expect(pyyaml('help: |\n  one\n').value).to.deep.equal({ help: 'one\n' });
      expect(strict('help: |\n  one').value).to.deep.equal({ help: 'one\n' });
    });

    it('reads yes/no/on/off as booleans and lets a later duplicate key win', () => {
      expect(pyyaml('a: yes\nb: Off\nc: y\nd: 1\nd: 2\n').value).to.deep.equal({ a: true, b: false, c: 'y', d: 2 });
      expect(() => strict('d: 1\nd: 2\n')).to.throw(LollmsHostError);
    });

    it('reports a file that is broken for PyYAML too, at the original error', () => {
      const error = syntaxError(() => pyyaml('a: [1, 2\nb: 3\n'));
      expect(error.line).to.be.a('number');
      expect(error.file).to.equal('/x/config.yaml');
    });

    it('reads the zoo fixtures with the values PyYAML gives them', async () => {
      const expected = JSON.parse(await readFile(join(FIXTURES, 'pyyaml-values.json'), 'utf8')) as Record<string, unknown>;
      expect(Object.keys(expected)).to.have.length(6);
      for (const [rel, value] of Object.entries(expected)) {
        const parsed = pyyaml(await readFile(join(FIXTURES, rel, 'config.yaml'), 'utf8'));
        expect(JSON.parse(JSON.stringify(parsed.value)), rel).to.deep.equal(value);
        expect(parsed.oddities, rel).not.to.be.empty;
      }
    });

    it('lists every fixture personality, with the values of PyYAML', async () => {
      const errors: string[] = [];
      const warnings: string[] = [];
      const list = await listPersonalities([FIXTURES], { onError: (f) => errors.push(f), onWarning: (where) => warnings.push(where) });
      expect(errors).to.deep.equal([]);
      const folders = Object.values(list['english'] ?? {}).flat().map((p) => p.folder).sort();
      expect(folders).to.deep.equal(['ai assisted doctor', 'datastruct', 'ichigo', 'lilypond', 'python_specialist', 'the_borg_queen']);
      expect(warnings.some((w) => w.includes('ichigo/config.yaml:27:1'))).to.equal(true);
      const text = await readFile(join(FIXTURES, 'english/anime/ichigo/config.yaml'), 'utf8');
      expect(parsePersonalityConfig(text, { file: 'ichigo/config.yaml', folder: 'ichigo' }).link_text).to.equal(' ');
    });
  });

  describe('positions', () => {
    it('gives the line and column of a key, nested keys and list items', () => {
      const parsed = strict('a: 1\nb:\n  c: [x, y]\n  d:\n    - 1\n    - 2\n');
      expect(parsed.positionOf(['a'])).to.deep.equal({ line: 1, column: 1 });
      expect(parsed.positionOf(['b', 'c'])).to.deep.equal({ line: 3, column: 3 });
      expect(parsed.positionOf(['b', 'd', 1])).to.deep.equal({ line: 6, column: 7 });
      expect(parsed.positionOf(['nope'])).to.equal(undefined);
    });
  });

  describe('nearest', () => {
    it('suggests the closest known name for a typo, and nothing for unrelated names', () => {
      expect(editDistance('temprature', 'temperature')).to.equal(1);
      expect(editDistance('ab', 'ba')).to.equal(1);
      expect(nearest('temprature', ['top_k', 'temperature', 'top_p'])).to.equal('temperature');
      expect(nearest('PORT', ['port', 'host'])).to.equal('port');
      expect(nearest('banana', ['port', 'host'])).to.equal(undefined);
    });
  });
});
