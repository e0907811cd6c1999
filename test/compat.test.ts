import { expect } from 'chai';
import { createRequire } from 'node:module';
import { runInNewContext } from 'node:vm';
import { io as connectClient, type Socket } from 'socket.io-client';
import { request, startTestHost, type TestHost } from './helpers/host.js';
import { reservedEventOf } from '../core/transports/socket/compat.js';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { capturingLogger } from './helpers/logger.js';

const require = createRequire(import.meta.url);
const SOCKET_IO_VERSION = (require('socket.io/package.json') as { version: string }).version;

/** The raw engine.io socket under a socket.io client, to send packets the socket.io client refuses to build. */
function engineOf(socket: Socket): { send(data: string | Buffer): void } {
  return (socket.io as unknown as { engine: { send(data: string | Buffer): void } }).engine;
}

describe('compatibility with clients of the original era (issue 20)', function () {
  this.timeout(60_000);
  let host: TestHost;
  let logs: ReturnType<typeof capturingLogger>;
  before(async () => {
    logs = capturingLogger('debug');
    host = await startTestHost({ logger: logs.logger });
  });
  after(() => host.stop());

  it('recognises reserved event packets, with namespace, ack id and binary attachments', () => {
    expect(reservedEventOf('2["connect"]')).to.deep.equal({ name: 'connect', attachments: 0 });
    expect(reservedEventOf('2/chat,12["disconnect",{"a":1}]')).to.deep.equal({ name: 'disconnect', attachments: 0 });
    expect(reservedEventOf('52-["newListener",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]')).to.deep.equal({ name: 'newListener', attachments: 2 });
    expect(reservedEventOf('2["generate_text",{}]')).to.equal(undefined);
    expect(reservedEventOf('2["connect"')).to.equal(undefined);
    expect(reservedEventOf('3["connect"]')).to.equal(undefined);
  });

  for (const transport of ['websocket', 'polling'] as const) {
    it(`a client that emits "connect", "disconnect" or another reserved name stays connected (${transport})`, async () => {
      const socket = connectClient(host.url, { transports: [transport], reconnection: false, forceNew: true });
      let disconnected = '';
      socket.on('disconnect', (reason) => (disconnected = reason));
      try {
        await new Promise<void>((resolve, reject) => {
          socket.once('connect', () => resolve());
          socket.once('connect_error', reject);
        });
        const before = logs.lines.filter((l) => l.msg.includes('socket.io reserves that name')).length;
        const engine = engineOf(socket);
        // What the original Qt client sends right after connecting, then other reserved names, one with a binary attachment.
        engine.send('2["connect"]');
        engine.send('2["disconnect",{"x":1}]');
        engine.send('51-["removeListener",{"_placeholder":true,"num":0}]');
        engine.send(Buffer.from([1, 2, 3]));
        // Packets are handled in order: an answer to the next request means the connection survived them all.
        const reply = await request(socket, 'list_active_personalities', {}, 'active_personalities_list');
        expect(reply.success).to.equal(true);
        expect(socket.connected).to.equal(true);
        expect(disconnected).to.equal('');
        const ignored = logs.lines.filter((l) => l.msg.includes('socket.io reserves that name'));
        expect(ignored.length - before, 'logged once per connection').to.equal(1);
        expect(ignored.at(-1)).to.include({ level: 20, event: 'connect' });
      } finally {
        socket.close();
      }
    });
  }

  it('a packet that is broken in another way still closes the connection, as socket.io does', async () => {
    const socket = connectClient(host.url, { transports: ['websocket'], reconnection: false, forceNew: true });
    try {
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      const closed = new Promise<string>((resolve) => socket.once('disconnect', resolve));
      engineOf(socket).send('2{"not":"an array"}');
      expect(await closed).to.be.a('string');
    } finally {
      socket.close();
    }
  });

  it('serves the socket.io browser client of the server version at /socket.io/socket.io.js', async () => {
    const response = await fetch(`${host.url}/socket.io/socket.io.js`);
    expect(response.status).to.equal(200);
    expect(response.headers.get('content-type')).to.match(/javascript/);
    const body = await response.text();
    expect(body.slice(0, 200)).to.contain(`Socket.IO v${SOCKET_IO_VERSION}`);
    // The UMD bundle defines the global `io` a page's script tag relies on.
    const page: Record<string, unknown> = {};
    runInNewContext(body, page);
    expect(page['io']).to.be.a('function');
    expect((await fetch(`${host.url}/socket.io/socket.io.min.js`)).status).to.equal(200);
  });

  describe('a Python binding from the original bindings zoo', () => {
    let zoo: string;
    let withPython: TestHost;
    before(async () => {
      zoo = await mkdtemp(join(tmpdir(), 'lollms-python-binding-'));
      const folder = join(zoo, 'py_llama_cpp');
      await mkdir(folder, { recursive: true });
      await writeFile(join(folder, 'binding_card.yaml'), 'name: py_llama_cpp\nauthor: someone\nversion: 1.0\n');
      await writeFile(join(folder, 'models.yaml'), '- filename: model.bin\n  server: https://example.com/\n');
      await writeFile(join(folder, '__init__.py'), 'binding_name = "PyLlamaCpp"\n');
      withPython = await startTestHost({ config: { bindings_paths: [zoo] } });
    });
    after(async () => {
      await withPython.stop();
      await rm(zoo, { recursive: true, force: true });
    });

    it('is listed, and selecting it says Python bindings are not run and points to the binding guide', async () => {
      const socket = await withPython.connect();
      const listed = await request(socket, 'list_available_bindings', undefined, 'bindings_list');
      expect(JSON.stringify(listed)).to.contain('py_llama_cpp');
      const reply = (await request(socket, 'select_binding', { binding_name: 'py_llama_cpp' }, 'select_binding')) as { success: boolean; error?: string };
      expect(reply.success).to.equal(false);
      expect(reply.error ?? '').to.contain('is a Python binding (__init__.py)').and.contain('does not run Python bindings').and.contain('docs/writing-a-binding.md');
      expect(reply.error ?? '').not.to.contain(zoo);
      // The current binding keeps serving.
      expect(withPython.host.bindings.activeBinding).to.equal('llama_cpp');
    });
  });
});
