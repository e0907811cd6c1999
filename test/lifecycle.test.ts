import { expect } from 'chai';
import { createServer } from 'node:net';
import { startTestHost, request, generate, type TestHost } from './helpers/host.js';

describe('host lifecycle', () => {
  let host: TestHost;
  after(async () => {
    await host?.stop();
  });

  it('starts on a free port and accepts a socket.io client', async () => {
    host = await startTestHost();
    expect(host.port).to.be.a('number').and.to.be.greaterThan(0);
    expect(host.url).to.equal(`http://127.0.0.1:${host.port}`);
    const socket = await host.connect();
    expect(socket.connected).to.equal(true);
    const reply = await request(socket, 'list_active_personalities', undefined, 'active_personalities_list');
    expect(reply).to.deep.equal({ success: true, personalities: ['lollms'] });
  });

  it('serves the tiny test model out of the box on a fresh data dir', async () => {
    const socket = await host.connect();
    const result = await generate(socket, { prompt: 'Hello', personality: -1, n_predicts: 8 });
    expect(result.error).to.equal(undefined);
    expect(result.text).to.be.a('string');
    expect(result.chunks.join('')).to.equal(result.text);
    expect(host.host.config.values.model_name).to.equal('tiny-random-llama.gguf');
  });

  it('frees its port on close()', async () => {
    const port = host.port;
    await host.stop();
    await new Promise<void>((resolve, reject) => {
      const probe = createServer();
      probe.once('error', reject);
      probe.listen(port, '127.0.0.1', () => probe.close(() => resolve()));
    });
  });
});
