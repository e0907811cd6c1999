import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../core/util/package-root.js';
import { REQUEST_SCHEMAS, SERVER_EVENT_NAMES } from '../core/protocol/index.js';
import { CONFIG_KEYS, CONFIG_KEY_NAMES, envVarName } from '../core/config.js';
import { ChatCompletionRequestSchema, CompletionRequestSchema, EmbeddingRequestSchema } from '../core/transports/http/openai/schemas.js';

const read = (file: string) => readFile(join(PACKAGE_ROOT, file), 'utf8');

describe('documentation stays complete', () => {
  it('docs/protocol.md documents every event and route', async () => {
    const doc = await read('docs/protocol.md');
    for (const event of [...Object.keys(REQUEST_SCHEMAS), ...SERVER_EVENT_NAMES]) expect(doc, event).to.contain(`\`${event}\``);
    for (const route of ['/health', '/status', '/metrics', '/get_config', '/list_models', '/get_active_model', '/update_setting', '/list_mounted_personalities', '/get_server_ifos']) {
      expect(doc, route).to.contain(route);
    }
  });

  it('docs/openai-api.md documents every route and every request field the API reads', async () => {
    const doc = await read('docs/openai-api.md');
    for (const route of ['GET /v1/models', 'GET /v1/models/{id}', 'POST /v1/chat/completions', 'POST /v1/completions', 'POST /v1/embeddings']) expect(doc, route).to.contain(route);
    for (const schema of [ChatCompletionRequestSchema, CompletionRequestSchema, EmbeddingRequestSchema]) {
      for (const field of Object.keys(schema.shape)) expect(doc, field).to.contain(`\`${field}\``);
    }
    for (const link of ['README.md', 'docs/protocol.md']) expect(await read(link), link).to.contain('openai-api.md');
  });

  it('docs/configuration.md lists every config key with its default and variable', async () => {
    const doc = await read('docs/configuration.md');
    for (const name of CONFIG_KEY_NAMES) {
      const row = doc.split('\n').find((line) => line.startsWith(`| \`${name}\` |`));
      expect(row, name).to.be.a('string');
      expect(row).to.contain(`\`${JSON.stringify(CONFIG_KEYS[name].default)}\``);
      expect(row).to.contain(envVarName(name));
    }
  });

  it('the README has the two quick-start commands and links the guides', async () => {
    const readme = await read('README.md');
    expect(readme).to.contain('npm ci && npm start');
    expect(readme).to.contain('npm ci && npm test');
    // Machines whose Node is older than 24 (issue 13): the same commands with Node 24 from the npm registry.
    expect(readme).to.contain("npx -y -p node@24 -c 'npm ci && npm start'");
    expect(readme).to.contain("npx -y -p node@24 -c 'npm ci && npm test'");
    for (const link of ['docs/protocol.md', 'docs/configuration.md']) expect(readme).to.contain(`(${link})`);
    const ci = await read('.ci/run');
    expect(ci).to.contain('npm ci && npm test');
  });
});
