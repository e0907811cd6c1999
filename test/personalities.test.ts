import { expect } from 'chai';
import { codedRejection } from './helpers/assert.js';
import { mkdir, mkdtemp, readFile, readdir, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { LollmsHostError } from '../core/errors.js';
import { BUILTIN_PERSONALITIES_PATH } from '../core/util/package-root.js';
import { PERSONALITY_DEFAULTS, loadPersonalityConfig, parsePersonalityConfig } from '../core/personalities/config.js';
import { fillPlaceholders, formatDate, formatDateTime, formatTime } from '../core/personalities/conditioning.js';
import { loadPersonalityVersion } from '../core/personalities/version.js';
import { DEFAULT_SANDBOX_LIMITS } from '../core/sandbox/index.js';
import {
  listCategories,
  listLanguages,
  listNames,
  listPersonalities,
  personalityAssetUrl,
  resolvePersonalityAsset,
  resolvePersonalityPath,
} from '../core/personalities/zoo.js';
import { assemblePrompt, recordAnswer, type AssemblePromptOptions, type PromptTokenizer } from '../core/generation/prompt.js';
import { samplingFor } from '../core/generation/sampling.js';
import { PersonalitySettingsStore, settingsFileName, validateSettings, validateTemplate } from '../core/personalities/settings.js';
import type { SettingsTemplate } from '../plugin-api/processor.js';


function thrown(fn: () => unknown): LollmsHostError {
  try {
    fn();
  } catch (error) {
    expect(error).to.be.instanceOf(LollmsHostError);
    return error as LollmsHostError;
  }
  expect.fail('expected a throw');
}

const parse = (text: string) => parsePersonalityConfig(text, { file: '/zoo/x/config.yaml', folder: '/zoo/x' });

/** Write a personality folder: config.yaml, optionally a logo and a scripts folder. */
async function personality(root: string, rel: string, config: string, extras: { logo?: string; scripts?: boolean } = {}): Promise<string> {
  const folder = join(root, ...rel.split('/'));
  await mkdir(folder, { recursive: true });
  await writeFile(join(folder, 'config.yaml'), config);
  if (extras.logo) {
    await mkdir(join(folder, 'assets'), { recursive: true });
    await writeFile(join(folder, 'assets', extras.logo), 'image bytes');
  }
  if (extras.scripts) await mkdir(join(folder, 'scripts'), { recursive: true });
  return folder;
}

/** 19 July 2023, 19:05:09 local time (the zoo snapshot's day). */
const NOW = new Date(2023, 6, 19, 19, 5, 9);

describe('personalities', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await realpath(await mkdtemp(join(tmpdir(), 'lollms-personalities-')));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  describe('config.yaml', () => {
    it('applies the original defaults for missing keys and keeps unknown keys', () => {
      const config = parse('name: Tiny\nlollms_version: 0.0.5\nrecommended_binding: ""\nrecommended_model:\nmy_key: {a: [1, 2]}\n');
      expect(config.name).to.equal('Tiny');
      for (const key of ['author', 'user_name', 'language', 'category', 'personality_description', 'personality_conditioning', 'welcome_message',
        'include_welcome_message_in_disucssion', 'user_message_prefix', 'link_text', 'ai_message_prefix', 'anti_prompts', 'dependencies',
        'disclaimer', 'help', 'commands', 'model_temperature', 'model_n_predicts', 'model_top_k', 'model_top_p', 'model_repeat_penalty',
        'model_repeat_last_n', 'version'] as const) {
        expect(config[key], key).to.deep.equal(PERSONALITY_DEFAULTS[key]);
      }
      expect(config).to.include({ author: 'ParisNeo', user_name: 'user', language: 'english', category: 'General', user_message_prefix: '## Human: ', link_text: '\n', ai_message_prefix: '## lollms:', model_temperature: 0.8, model_n_predicts: 2048, model_top_k: 50, model_top_p: 0.95, model_repeat_penalty: 1.3, model_repeat_last_n: 40, version: '1.0.0', include_welcome_message_in_disucssion: true });
      expect(config.anti_prompts).to.deep.equal(['## Human', '## lollms', '##Human', '##Assistant', '##lollms']);
      expect(config.personality_conditioning).to.match(/^## Instructions:\n[\s\S]*lollms[\s\S]*Date: \{\{date\}\}\n$/);
      expect(config.processor_cfg).to.equal(undefined);
      expect(config.host_api).to.equal(undefined);
      // recommended_model is empty (null): unknown keys are kept as parsed.
      expect(config.extra).to.deep.equal({ lollms_version: '0.0.5', recommended_binding: '', my_key: { a: [1, 2] } });
      expect(config.declaredKeys.has('name')).to.equal(true);
      expect(config.declaredKeys.has('author')).to.equal(false);
    });

    it("reads link_text: '\\n' in single quotes as a literal backslash-n", () => {
      const config = parse("link_text: '\\n'\nai_message_prefix: 'T:'\n");
      expect(config.link_text).to.equal('\\n');
      expect(config.link_text).to.have.length(2);
    });

    it('reads folded double-quoted prefixes exactly', () => {
      const text = [
        'user_message_prefix:  "!@> Human:',
        '                      ',
        '                      "',
        'ai_message_prefix: "!@> Mental Health Advisor:',
        '                   ',
        '                   "',
        'link_text: "\\n"',
        '',
      ].join('\n');
      const config = parse(text);
      expect(config.user_message_prefix).to.equal('!@> Human:\n');
      expect(config.ai_message_prefix).to.equal('!@> Mental Health Advisor:\n');
      expect(config.link_text).to.equal('\n');
    });

    it('keeps a numeric version as written and reads PyYAML booleans', () => {
      expect(parse('version: 1.0\n').version).to.equal('1.0');
      expect(parse('version: 1.10\n').version).to.equal('1.10');
      expect(parse('version: 2\n').version).to.equal('2');
      expect(parse('include_welcome_message_in_disucssion: False\n').include_welcome_message_in_disucssion).to.equal(false);
      expect(parse('include_welcome_message_in_disucssion: no\n').include_welcome_message_in_disucssion).to.equal(false);
      expect(parse('include_welcome_message_in_disucssion: yes\n').include_welcome_message_in_disucssion).to.equal(true);
      // An empty value takes the default instead of crashing later as the original did.
      expect(parse('disclaimer:\nanti_prompts:\n').anti_prompts).to.deep.equal(PERSONALITY_DEFAULTS.anti_prompts);
    });

    it('distinguishes a missing processor_cfg from an empty one and checks its flags', () => {
      expect(parse('name: a\n').processor_cfg).to.equal(undefined);
      expect(parse('processor_cfg: {}\n').processor_cfg).to.deep.equal({});
      expect(parse('processor_cfg:\n  custom_workflow: true\n  process_model_input: False\n').processor_cfg).to.deep.equal({ custom_workflow: true, process_model_input: false });
      const error = thrown(() => parse('processor_cfg:\n  custom_workflow: maybe\n'));
      expect(error.code).to.equal('LH_ERR_PERSONALITY_CONFIG_INVALID');
      expect(error.message).to.contain('processor_cfg.custom_workflow');
    });

    it('reads host_api and refuses a range that is not semver', () => {
      expect(parse('host_api: "^1.0.0"\n').host_api).to.equal('^1.0.0');
      expect(thrown(() => parse('host_api: banana\n')).message).to.contain('"host_api"');
    });

    it('refuses a wrongly typed key, naming the key and the file', () => {
      for (const [text, key] of [
        ['model_temperature: hot\n', 'model_temperature'],
        ['model_n_predicts: 12.5\n', 'model_n_predicts'],
        ['anti_prompts: "## Human"\n', 'anti_prompts'],
        ['anti_prompts: [a, 1]\n', 'anti_prompts'],
        ['name: [a]\n', 'name'],
        ['version: [1]\n', 'version'],
        ['commands: [{value: 1}]\n', 'commands'],
      ] as const) {
        const error = thrown(() => parse(text));
        expect(error.code, text).to.equal('LH_ERR_PERSONALITY_CONFIG_INVALID');
        expect(error.message).to.contain(`"${key}"`).and.contain('/zoo/x/config.yaml');
        expect(error.file).to.equal('/zoo/x/config.yaml');
      }
      expect(thrown(() => parse('- a\n- b\n')).code).to.equal('LH_ERR_PERSONALITY_CONFIG_INVALID');
      expect(thrown(() => parse('')).code).to.equal('LH_ERR_PERSONALITY_CONFIG_INVALID');
    });

    it('refuses broken YAML with the file and line', async () => {
      const folder = await personality(dir, 'broken', 'name: ok\nanti_prompts: [unclosed\nlink_text: x\n');
      const error = await codedRejection(loadPersonalityConfig(folder));
      expect(error.code).to.equal('LH_ERR_PERSONALITY_CONFIG_SYNTAX');
      expect(error.file).to.equal(join(folder, 'config.yaml'));
      expect(error.line).to.be.a('number').and.be.greaterThan(1);
      expect(error.message).to.contain(`${join(folder, 'config.yaml')}:${error.line}`);
      expect((await codedRejection(loadPersonalityConfig(join(dir, 'missing')))).code).to.equal('LH_ERR_PERSONALITY_NOT_FOUND');
    });

    it('a version load reports a config error before its processor\'s compile error, and names the personality from its config', async () => {
      // The processor compiles while the config is read: which error wins must not depend on which ends first.
      const logger = { debug() {}, info() {}, warn() {}, error() {} } as unknown as Parameters<typeof loadPersonalityVersion>[1]['logger'];
      const broken = await personality(dir, 'both-broken', 'name: ok\nanti_prompts: [unclosed\n');
      await mkdir(join(broken, 'scripts'), { recursive: true });
      await writeFile(join(broken, 'scripts', 'processor.ts'), 'export default {{{;\n');
      expect((await codedRejection(loadPersonalityVersion(broken, { limits: DEFAULT_SANDBOX_LIMITS, logger }))).code).to.equal('LH_ERR_PERSONALITY_CONFIG_SYNTAX');
      const compileOnly = await personality(dir, 'compile-broken', 'name: Named In Config\n');
      await mkdir(join(compileOnly, 'scripts'), { recursive: true });
      await writeFile(join(compileOnly, 'scripts', 'processor.ts'), 'export default {{{;\n');
      const error = await codedRejection(loadPersonalityVersion(compileOnly, { limits: DEFAULT_SANDBOX_LIMITS, logger }));
      expect(error.code).to.equal('LH_ERR_PLUGIN_COMPILE');
      expect(error.message).to.contain('personality "Named In Config"');
    });

    it('fills {{date}}, {{time}} and {{date_time}} at access time, leaving unknown keys', () => {
      expect(formatDate(NOW)).to.equal('Wednesday, July 19, 2023');
      expect(formatTime(NOW)).to.equal('19:05:09');
      expect(formatDateTime(NOW)).to.equal('Wednesday, July 19, 2023 07:05:09 PM');
      expect(formatDateTime(new Date(2024, 0, 5, 0, 3, 4))).to.equal('Friday, January 05, 2024 12:03:04 AM');
      expect(formatDateTime(new Date(2024, 0, 5, 12, 0, 0))).to.equal('Friday, January 05, 2024 12:00:00 PM');
      expect(fillPlaceholders('{{date}}|{{time}}|{{date_time}}|{{user}}|{{ date }}', NOW)).to.equal(
        'Wednesday, July 19, 2023|19:05:09|Wednesday, July 19, 2023 07:05:09 PM|{{user}}|{{ date }}',
      );
      const config = parse('personality_conditioning: "Today is {{date}}. {{other}}"\nwelcome_message: "It is {{time}}"\n');
      expect(config.personality_conditioning).to.equal('Today is {{date}}. {{other}}');
      expect(config.conditioning(NOW)).to.equal('Today is Wednesday, July 19, 2023. {{other}}');
      expect(config.welcomeMessage(NOW)).to.equal('It is 19:05:09');
      expect(config.conditioning(new Date(2023, 6, 20))).to.contain('Thursday, July 20, 2023');
    });

    it('produces a plain-data view for the sandbox', () => {
      const config = parsePersonalityConfig('name: V\npersonality_conditioning: "d={{date}}"\nanti_prompts: [x]\n', { file: '/z/c/my.personality/config.yaml', folder: '/z/c/my.personality' });
      const view = config.view(NOW);
      expect(view).to.deep.include({ name: 'V', folder: 'my.personality', personality_conditioning: 'd=Wednesday, July 19, 2023', anti_prompts: ['x'] });
      expect(JSON.parse(JSON.stringify(view))).to.deep.equal(view);
      view.anti_prompts.push('y');
      expect(config.anti_prompts).to.deep.equal(['x']);
    });

    it('ships english/generic/lollms as in the original zoo (reference §7.1)', async () => {
      const config = await loadPersonalityConfig(join(BUILTIN_PERSONALITIES_PATH, 'english', 'generic', 'lollms'));
      expect(config).to.include({
        name: 'lollms', author: 'ParisNeo', version: '1.0.0', category: 'generic', host_api: '^1.0.0',
        user_message_prefix: '!@> Human:\n', ai_message_prefix: '!@> Assistant:\n', link_text: '\n',
        model_temperature: 0.6, model_n_predicts: 8192, model_top_k: 50, model_top_p: 0.9, model_repeat_penalty: 1.0, model_repeat_last_n: 40,
      });
      expect(config.personality_conditioning).to.equal(
        "!@>information:\nAssistant's name: LoLLMs\nAuthor : ParisNeo a computer geek pationed by AI\nToday's date is {{date}}\n!@>instructions:\nYour mission is to assist user to perform various tasks and answer his questions\n",
      );
      expect(config.anti_prompts).to.deep.equal(['!@>', '!@>Human', '!@>Assistant', '!@> Human', '!@> Assistant', 'Human:', '!@> lollms:', '!@>lollms:']);
      expect(config.welcome_message.split('\n')).to.have.length(2);
      expect(config.processor_cfg).to.equal(undefined);
      const logo = await readFile(join(config.folder, 'assets', 'logo.png'));
      expect([...logo.subarray(0, 8)]).to.deep.equal([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
      expect(logo.readUInt32BE(16)).to.equal(64);
      expect(logo.readUInt32BE(20)).to.equal(64);
      const list = await listPersonalities([BUILTIN_PERSONALITIES_PATH]);
      expect(list.english?.generic?.find((p) => p.folder === 'lollms')).to.deep.include({ has_scripts: false, has_logo: true, avatar: '/personalities/english/generic/lollms/assets/logo.png' });
    });
  });

  describe('zoo', () => {
    let three: string;
    let two: string;
    let outside: string;
    let errors: Array<{ folder: string; error: unknown }>;
    const onError = (folder: string, error: unknown) => errors.push({ folder, error });

    beforeEach(async () => {
      errors = [];
      three = join(dir, 'three');
      two = join(dir, 'two');
      outside = join(dir, 'outside');
      await personality(three, 'english/generic/lollms', 'name: lollms\npersonality_description: Default\nversion: 1.0\n', { logo: 'logo.png' });
      await personality(three, 'english/coaching/mental health advisor', 'name: Mental Health Advisor\nuser_name: Patient\nauthor: someone\n', { logo: 'logo.gif' });
      await personality(three, 'english/generic/chain.of.thoughts', 'name: Chain Of Thoughts\ncategory: Art\n', { scripts: true, logo: 'logo.jpeg' });
      await personality(three, 'english/generic/broken', 'name: [oops\n');
      await personality(three, 'english/generic/no_name', 'author: x\n');
      await personality(three, 'french/generic/bonjour', 'name: Bonjour\n', { logo: 'logo.webp' });
      await mkdir(join(three, '.git', 'objects', 'ab'), { recursive: true });
      await personality(three, '.hidden/generic/ghost', 'name: ghost\n');
      await mkdir(join(three, 'english', 'empty_category'), { recursive: true });
      await personality(two, 'generic/two_level', 'name: Two\n', { logo: 'logo.bmp' });
      await personality(two, 'art/peintre', 'name: Peintre\nlanguage: French\n');
      await personality(two, 'art/broken_type', 'name: Broken\nmodel_top_k: many\n');
      await personality(outside, 'evil', 'name: Evil\n', { logo: 'logo.png' });
      await symlink(join(outside, 'evil'), join(three, 'english', 'generic', 'evil'));
      await writeFile(join(three, 'english', 'generic', 'lollms', 'secret.yaml'), 'key: hidden\n');
    });

    it('lists three-level and two-level zoos with the original info fields', async () => {
      const list = await listPersonalities([three, two], { onError });
      expect(Object.keys(list).sort()).to.deep.equal(['english', 'french']);
      expect(Object.keys(list.english!).sort()).to.deep.equal(['coaching', 'generic']);
      expect(Object.keys(list.french!).sort()).to.deep.equal(['art', 'generic']);
      expect(list.english!.generic!.map((p) => p.folder)).to.deep.equal(['chain.of.thoughts', 'lollms', 'no_name', 'two_level']);
      expect(list.english!.generic![1]).to.deep.equal({
        folder: 'lollms', name: 'lollms', description: 'Default', author: 'ParisNeo', version: '1.0',
        has_scripts: false, has_logo: true, avatar: '/personalities/english/generic/lollms/assets/logo.png',
      });
      expect(list.english!.generic![0]).to.deep.include({ folder: 'chain.of.thoughts', has_scripts: true, has_logo: true, avatar: '/personalities/english/generic/chain.of.thoughts/assets/logo.jpeg' });
      expect(list.english!.generic![2]).to.deep.include({ name: 'No Name', description: '', author: 'x', version: '1.0.0', has_logo: false, avatar: '' });
      // Two-level: listed under the config's language (default english), avatar relative to its own path.
      expect(list.english!.generic![3]).to.deep.include({ name: 'Two', avatar: '/personalities/generic/two_level/assets/logo.bmp' });
      expect(list.french!.art!.map((p) => p.name)).to.deep.equal(['Peintre']);
      expect(list.english!.coaching![0]).to.deep.include({ folder: 'mental health advisor', author: 'someone', avatar: '/personalities/english/coaching/mental%20health%20advisor/assets/logo.gif' });
    });

    it('leaves broken configs out and reports them, skipping dot folders and escaping symlinks', async () => {
      const list = await listPersonalities([three, two], { onError });
      const folders = Object.values(list).flatMap((byCategory) => Object.values(byCategory).flat().map((p) => p.folder));
      expect(folders).to.not.include.members(['broken', 'broken_type', 'ghost', 'evil']);
      const reported = errors.map((e) => e.folder).sort();
      expect(reported).to.deep.equal([join(two, 'art', 'broken_type'), join(three, 'english', 'generic', 'broken')].sort());
      expect(errors.map((e) => (e.error as LollmsHostError).code).sort()).to.deep.equal(['LH_ERR_PERSONALITY_CONFIG_INVALID', 'LH_ERR_PERSONALITY_CONFIG_SYNTAX']);
      // A missing personalities path is reported, not fatal.
      errors = [];
      await listPersonalities([join(dir, 'nope'), two], { onError });
      expect(errors.map((e) => e.folder)).to.include(join(dir, 'nope'));
    });

    it('lets the last personalities path win for the same language/category/name', async () => {
      const other = join(dir, 'other');
      await personality(other, 'english/generic/lollms', 'name: Override\n', { logo: 'logo.png' });
      const list = await listPersonalities([three, other]);
      expect(list.english!.generic!.filter((p) => p.folder === 'lollms').map((p) => p.name)).to.deep.equal(['Override']);
      expect(await resolvePersonalityPath([three, other], 'english/generic/lollms')).to.equal(join(other, 'english', 'generic', 'lollms'));
      expect(await resolvePersonalityPath([other, three], 'english/generic/lollms')).to.equal(join(three, 'english', 'generic', 'lollms'));
      expect(await resolvePersonalityAsset([three, other], '/personalities/english/generic/lollms/assets/logo.png')).to.equal(join(other, 'english', 'generic', 'lollms', 'assets', 'logo.png'));
    });

    it('lists languages, categories and names', async () => {
      const paths = [three, two];
      expect(await listLanguages(paths)).to.deep.equal(['english', 'french']);
      expect(await listCategories(paths, 'english')).to.deep.equal(['coaching', 'generic']);
      expect(await listCategories(paths, 'french')).to.deep.equal(['art', 'generic']);
      expect(await listCategories(paths)).to.deep.equal(['art', 'coaching', 'generic']);
      expect(await listNames(paths, { language: 'english', category: 'generic' })).to.deep.equal(['chain.of.thoughts', 'lollms', 'no_name', 'two_level']);
      expect(await listNames(paths, { category: 'coaching' })).to.deep.equal(['mental health advisor']);
      expect(await listNames([two], { category: 'art' })).to.deep.equal(['peintre']);
      expect((await codedRejection(listCategories(paths, 'klingon'))).code).to.equal('LH_ERR_PERSONALITY_NOT_FOUND');
      expect((await codedRejection(listNames(paths, { language: 'french', category: 'coaching' }))).code).to.equal('LH_ERR_PERSONALITY_NOT_FOUND');
    });

    it('resolves add_personality paths with 3 or 2 segments, spaces included', async () => {
      const paths = [three, two];
      expect(await resolvePersonalityPath(paths, 'english/generic/lollms')).to.equal(join(three, 'english', 'generic', 'lollms'));
      expect(await resolvePersonalityPath(paths, 'english/coaching/mental health advisor')).to.equal(join(three, 'english', 'coaching', 'mental health advisor'));
      expect(await resolvePersonalityPath(paths, 'generic/two_level')).to.equal(join(two, 'generic', 'two_level'));
      // A later client's two-segment path finds a three-level personality ("english" first)...
      expect(await resolvePersonalityPath(paths, 'generic/lollms')).to.equal(join(three, 'english', 'generic', 'lollms'));
      expect(await resolvePersonalityPath(paths, 'generic/bonjour')).to.equal(join(three, 'french', 'generic', 'bonjour'));
      // ...and an older client's language/category/name finds a two-level one listed under that language.
      expect(await resolvePersonalityPath(paths, 'french/art/peintre')).to.equal(join(two, 'art', 'peintre'));
      expect((await codedRejection(resolvePersonalityPath(paths, 'english/art/peintre'))).code).to.equal('LH_ERR_PERSONALITY_NOT_FOUND');
      for (const missing of ['english/generic/nope', 'generic/nope', 'english/generic', 'a/b/c/d', 'lollms', 'english/empty_category/x']) {
        expect((await codedRejection(resolvePersonalityPath(paths, missing))).code, missing).to.equal('LH_ERR_PERSONALITY_NOT_FOUND');
      }
    });

    it('refuses path escapes with PathOutsideRoot', async () => {
      const paths = [three, two];
      for (const bad of ['../outside/evil', 'english/../../outside/evil', '..', `${outside}/evil`, '/etc/passwd', 'english/generic/lollms\0', 'english\\generic\\lollms', 'english//lollms', 'english/generic/', 'english/generic/evil']) {
        const error = await codedRejection(resolvePersonalityPath(paths, bad));
        expect(error.code, JSON.stringify(bad)).to.equal('LH_ERR_PATH_OUTSIDE_ROOT');
      }
    });

    it('maps avatar URLs back to the logo file, and nothing else', async () => {
      const paths = [three, two];
      const list = await listPersonalities(paths);
      const advisor = list.english!.coaching![0]!;
      expect(await resolvePersonalityAsset(paths, advisor.avatar)).to.equal(join(three, 'english', 'coaching', 'mental health advisor', 'assets', 'logo.gif'));
      expect(await resolvePersonalityAsset(paths, list.english!.generic![3]!.avatar)).to.equal(join(two, 'generic', 'two_level', 'assets', 'logo.bmp'));
      expect(await resolvePersonalityAsset(paths, `${list.english!.generic![1]!.avatar}?v=2`)).to.equal(join(three, 'english', 'generic', 'lollms', 'assets', 'logo.png'));
      expect(personalityAssetUrl('coaching/a b#c', 'logo.png')).to.equal('/personalities/coaching/a%20b%23c/assets/logo.png');

      const refused = [
        '/personalities/english/generic/lollms/assets/..%2F..%2F..%2F..%2Foutside%2Fevil%2Fconfig.yaml',
        '/personalities/english/generic/lollms/assets/../secret.yaml',
        '/personalities/english/generic/lollms/assets/%2e%2e/secret.yaml',
        '/personalities/english/generic/lollms/assets/logo.png%00.txt',
        '/personalities/english/generic/evil/assets/logo.png',
        '/personalities/english/generic/lollms/assets/%E0%A4%A',
        '/personalities/english/generic/lollms/assets/a%5Cb',
      ];
      for (const url of refused) expect((await codedRejection(resolvePersonalityAsset(paths, url))).code, url).to.equal('LH_ERR_PATH_OUTSIDE_ROOT');
      const missing = [
        '/personalities/english/generic/lollms/secret.yaml',
        '/personalities/english/generic/lollms/config.yaml',
        '/personalities/english/generic/lollms/assets/nope.png',
        '/personalities/english/generic/lollms/assets',
        '/personalities/english/generic/nope/assets/logo.png',
        '/elsewhere/english/generic/lollms/assets/logo.png',
      ];
      for (const url of missing) expect((await codedRejection(resolvePersonalityAsset(paths, url))).code, url).to.match(/^LH_ERR_(PATH|PERSONALITY)_NOT_FOUND$/);
    });
  });

  describe('prompt assembly', () => {
    /** One token per character: assembly is pure text logic, so this keeps the expected strings readable. */
    const chars: PromptTokenizer = {
      tokenize: async (text) => [...text].map((c) => c.codePointAt(0)!),
      detokenize: async (tokens) => String.fromCodePoint(...tokens),
    };
    const discussionConfig = { use_user_name_in_discussions: false, discussion_prompt_separator: '!@>', user_name: 'user' };
    let lollms: Awaited<ReturnType<typeof loadPersonalityConfig>>;
    before(async () => {
      lollms = await loadPersonalityConfig(join(BUILTIN_PERSONALITIES_PATH, 'english', 'generic', 'lollms'));
    });
    const base = (): Omit<AssemblePromptOptions, 'blocks' | 'prompt'> => ({ personality: lollms, config: discussionConfig, ctxSize: 4096, nPredicts: 512, tokenizer: chars, now: NOW });

    const C = "!@>information:\nAssistant's name: LoLLMs\nAuthor : ParisNeo a computer geek pationed by AI\nToday's date is Wednesday, July 19, 2023\n!@>instructions:\nYour mission is to assist user to perform various tasks and answer his questions\n";
    const W = 'Welcome! My name is LoLLMs (Lord Of Large Language Models).\nHow can I help you today?';

    it('assembles the exact prompt of a two-turn discussion with generic/lollms', async () => {
      const turn1 = await assemblePrompt({ ...base(), blocks: [], prompt: 'Hi' });
      expect(turn1.modelInput).to.equal(`${C}!@> Assistant:\n${W}\n!@> Human:\nHi\n!@> Assistant:\n`);
      expect(turn1.previousDiscussion).to.equal(turn1.modelInput);
      expect(turn1.blocksAfterUser).to.deep.equal(['!@> Assistant:\n', W, '\n', '!@> Human:\n', 'Hi', '\n', '!@> Assistant:\n']);
      expect(turn1).to.include({ cropped: false, promptTokens: turn1.modelInput.length, maxTokens: 512 });

      const blocks = recordAnswer(turn1.blocksAfterUser, '  Hello! How are you?\n', { personality: lollms });
      const turn2 = await assemblePrompt({ ...base(), blocks, prompt: 'Tell me a joke' });
      expect(turn2.modelInput).to.equal(
        C +
          '!@> Assistant:\n' + W + '\n' +
          '!@> Human:\n' + 'Hi' + '\n' + '!@> Assistant:\n' + 'Hello! How are you?' + '\n' +
          '!@> Human:\n' + 'Tell me a joke' + '\n' + '!@> Assistant:\n',
      );
      // The conditioning appears once.
      expect(turn2.modelInput.split('!@>information:')).to.have.length(2);
    });

    it('uses the processed prompt in the discussion and leaves the blocks passed in untouched', async () => {
      const blocks: string[] = [];
      const turn = await assemblePrompt({ ...base(), blocks, prompt: 'q', processedPrompt: 'question:\nq\nsearch results:\nnone\n' });
      expect(blocks).to.deep.equal([]);
      expect(turn.modelInput.endsWith('!@> Human:\nquestion:\nq\nsearch results:\nnone\n\n!@> Assistant:\n')).to.equal(true);
    });

    it('crops the discussion from the left and never cuts the conditioning', async () => {
      const blocks = recordAnswer(['!@> Human:\n', 'x'.repeat(500), '\n', '!@> Assistant:\n'], 'y'.repeat(500), { personality: lollms });
      const ctxSize = C.length + 200 + 100;
      const turn = await assemblePrompt({ ...base(), blocks, prompt: 'last question', ctxSize, nPredicts: 100 });
      expect(turn.cropped).to.equal(true);
      expect(turn.modelInput.startsWith(C)).to.equal(true);
      expect(turn.discussion).to.have.length(200);
      expect(turn.modelInput).to.have.length(ctxSize - 100);
      expect(turn.modelInput.endsWith('!@> Human:\nlast question\n!@> Assistant:\n')).to.equal(true);
      expect(turn.maxTokens).to.equal(100);
      // The stored discussion is never trimmed; cropping happens at assembly time.
      expect(turn.blocksAfterUser.slice(0, blocks.length)).to.deep.equal(blocks);
    });

    it('keeps room for the discussion when n_predicts exceeds the context, shrinking the answer instead', async () => {
      const turn = await assemblePrompt({ ...base(), blocks: [], prompt: 'z'.repeat(3000), ctxSize: 2048, nPredicts: 8192 });
      const room = 2048 - C.length;
      expect(turn.modelInput.startsWith(C)).to.equal(true);
      expect(turn.discussion).to.have.length(Math.ceil(room / 4));
      expect(turn.maxTokens).to.equal(2048 - turn.promptTokens);
      const error = await codedRejection(assemblePrompt({ ...base(), blocks: [], prompt: 'a', ctxSize: 100 }));
      expect(error.code).to.equal('LH_ERR_CONTEXT_OVERFLOW');
    });

    it('ends a custom workflow turn after the user text and records its answer after the AI prefix', async () => {
      const turn = await assemblePrompt({ ...base(), blocks: ['earlier\n'], prompt: 'essay about cats', customWorkflow: true });
      expect(turn.blocksAfterUser).to.deep.equal(['earlier\n', '!@> Human:\n', 'essay about cats']);
      expect(turn.previousDiscussion).to.equal(`${C}earlier\n!@> Human:\nessay about cats`);
      const after = recordAnswer(turn.blocksAfterUser, 'Cats.', { personality: lollms, customWorkflow: true });
      expect(after.join('')).to.equal('earlier\n!@> Human:\nessay about cats\n!@> Assistant:\nCats.\n');
    });

    it('prefixes user turns with the separator and user name in user-name mode', async () => {
      const config = { use_user_name_in_discussions: true, discussion_prompt_separator: '!@>', user_name: 'Alice' };
      const turn = await assemblePrompt({ ...base(), config, blocks: ['x'], prompt: 'Hello' });
      expect(turn.blocksAfterUser).to.deep.equal(['x', '!@>Alice: ', 'Hello', '\n', '!@> Assistant:\n']);
    });

    it('leaves the welcome message out when the flag is off, and adds nothing for an empty prompt', async () => {
      const personality = parse("include_welcome_message_in_disucssion: False\npersonality_conditioning: ''\nuser_message_prefix: 'U:'\nai_message_prefix: 'A:'\nlink_text: '\\n'\n");
      const turn = await assemblePrompt({ ...base(), personality, blocks: [], prompt: 'q' });
      expect(turn.modelInput).to.equal('U:q\\nA:');
      const empty = await assemblePrompt({ ...base(), blocks: ['a', 'b'], prompt: '' });
      expect(empty.blocksAfterUser).to.deep.equal(['a', 'b']);
    });

    it("uses the personality's sampling unless the config overrides it, with anti-prompts as stop strings", () => {
      const config = { override_personality_model_parameters: false, temperature: 0.9, top_k: 40, top_p: 0.5, repeat_penalty: 1.2, repeat_last_n: 64, n_predict: 1024, seed: 7 };
      expect(samplingFor(lollms, config)).to.deep.equal({ maxTokens: 8192, temperature: 0.6, topK: 50, topP: 0.9, repeatPenalty: 1, repeatLastN: 40, seed: 7, stop: lollms.anti_prompts });
      expect(samplingFor(lollms, { ...config, override_personality_model_parameters: true })).to.deep.equal({ maxTokens: 1024, temperature: 0.9, topK: 40, topP: 0.5, repeatPenalty: 1.2, repeatLastN: 64, seed: 7, stop: lollms.anti_prompts });
      expect(samplingFor(parse('anti_prompts: ["", "X"]\n'), config).stop).to.deep.equal(['X']);
    });
  });

  describe('processor settings', () => {
    const template: SettingsTemplate = {
      nb_ideas: { type: 'int', value: 3, min: 2, max: 100, help: 'ideas to build' },
      temperature: { type: 'float', value: 0.5, min: 0, max: 2 },
      style: { type: 'str', value: 'short', options: ['short', 'long'] },
      title: { type: 'str', value: '' },
      verbose: { type: 'bool', value: false },
      tags: { type: 'list', value: ['a'] },
    };

    it('validates values against the template, naming the setting and why', () => {
      expect(validateSettings(template, { nb_ideas: 5, temperature: 1, style: 'long', verbose: true, tags: [], title: 'x' })).to.deep.equal({ nb_ideas: 5, temperature: 1, style: 'long', verbose: true, tags: [], title: 'x' });
      const cases: Array<[Record<string, unknown>, string, RegExp]> = [
        [{ nb_ideas: 2.5 }, 'nb_ideas', /integer/],
        [{ nb_ideas: '3' }, 'nb_ideas', /integer/],
        [{ nb_ideas: 1 }, 'nb_ideas', /minimum 2/],
        [{ nb_ideas: 101 }, 'nb_ideas', /maximum 100/],
        [{ temperature: 'hot' }, 'temperature', /number/],
        [{ temperature: 2.5 }, 'temperature', /maximum 2/],
        [{ style: 'medium' }, 'style', /not one of/],
        [{ title: 3 }, 'title', /string/],
        [{ verbose: 'yes' }, 'verbose', /true or false/],
        [{ tags: 'a,b' }, 'tags', /list/],
      ];
      for (const [values, name, why] of cases) {
        const error = thrown(() => validateSettings(template, values));
        expect(error.code).to.equal('LH_ERR_SETTING_INVALID');
        expect(error.message).to.contain(`"${name}"`).and.match(why);
      }
      const unknown = thrown(() => validateSettings(template, { nb_idea: 3 }));
      expect(unknown.code).to.equal('LH_ERR_SETTING_UNKNOWN');
      expect(unknown.message).to.contain('"nb_idea"');
      expect(thrown(() => validateSettings(template, [1])).code).to.equal('LH_ERR_SETTING_INVALID');
      expect(() => validateTemplate(template)).to.not.throw();
      expect(thrown(() => validateTemplate({ n: { type: 'int', value: 50, max: 10 } })).message).to.contain('"n"');
    });

    it('persists values per personality atomically and overlays them on the defaults', async () => {
      const store = new PersonalitySettingsStore({ dataDir: dir });
      const id = 'coaching/mental health advisor';
      expect(await store.get(id, template)).to.deep.equal({ values: { nb_ideas: 3, temperature: 0.5, style: 'short', title: '', verbose: false, tags: ['a'] }, warnings: [] });
      const set = await store.set(id, template, { nb_ideas: 7, tags: ['x', 'y'] });
      expect(set.values).to.deep.include({ nb_ideas: 7, tags: ['x', 'y'], style: 'short' });
      expect(store.fileFor(id)).to.equal(join(dir, 'settings', 'personalities', 'coaching%2Fmental%20health%20advisor.yaml'));
      expect(YAML.parse(await readFile(store.fileFor(id), 'utf8'))).to.deep.equal({ nb_ideas: 7, tags: ['x', 'y'] });
      expect(await readdir(join(dir, 'settings', 'personalities'))).to.deep.equal(['coaching%2Fmental%20health%20advisor.yaml']);

      const again = new PersonalitySettingsStore({ dataDir: dir });
      expect((await again.get(id, template)).values).to.deep.include({ nb_ideas: 7, tags: ['x', 'y'], verbose: false });
      // Another personality has its own file.
      expect((await again.get('english/generic/lollms', template)).values.nb_ideas).to.equal(3);

      // A bad value is refused and nothing is written.
      expect((await codedRejection(store.set(id, template, { nb_ideas: 1000 }))).code).to.equal('LH_ERR_SETTING_INVALID');
      expect(YAML.parse(await readFile(store.fileFor(id), 'utf8'))).to.deep.equal({ nb_ideas: 7, tags: ['x', 'y'] });
      // Concurrent sets never lose each other's values.
      await Promise.all([store.set(id, template, { verbose: true }), store.set(id, template, { style: 'long' })]);
      expect((await store.get(id, template)).values).to.deep.include({ nb_ideas: 7, verbose: true, style: 'long' });
    });

    it('migrates saved values when the template changes', async () => {
      const store = new PersonalitySettingsStore({ dataDir: dir });
      await store.set('p', template, { nb_ideas: 50, temperature: 1.5, style: 'long', verbose: true });
      const next: SettingsTemplate = {
        nb_ideas: { type: 'int', value: 4, min: 2, max: 10 },
        temperature: { type: 'float', value: 0.7 },
        style: { type: 'bool', value: false },
        tags: { type: 'list', value: [] },
      };
      const { values, warnings } = await store.get('p', next);
      expect(values).to.deep.equal({ nb_ideas: 4, temperature: 1.5, style: false, tags: [] });
      expect(warnings).to.have.length(3);
      expect(warnings.find((w) => w.includes('"nb_ideas"'))).to.match(/maximum 10.*reset to the default 4/);
      expect(warnings.find((w) => w.includes('"style"'))).to.match(/true or false/);
      expect(warnings.find((w) => w.includes('"verbose"'))).to.match(/no longer in the template/);
      expect(YAML.parse(await readFile(store.fileFor('p'), 'utf8'))).to.deep.equal({ temperature: 1.5 });
      expect((await store.get('p', next)).warnings).to.deep.equal([]);
    });

    it('gives every id its own safe file name', () => {
      expect(settingsFileName('english/generic/lollms')).to.equal('english%2Fgeneric%2Flollms.yaml');
      expect(settingsFileName('..')).to.equal('%2E%2E.yaml');
      expect(settingsFileName('a/b_c')).to.not.equal(settingsFileName('a/b c'));
      expect(settingsFileName('é')).to.equal('%C3%A9.yaml');
      const long = settingsFileName('x'.repeat(500));
      expect(long.length).to.be.lessThan(200);
      expect(long).to.not.equal(settingsFileName(`${'x'.repeat(499)}y`));
    });
  });
});
