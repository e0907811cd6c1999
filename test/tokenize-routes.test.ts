/**
 * The llama-server token routes (`POST /tokenize`, `POST /detokenize`) take the same caps as the socket's
 * tokenize events (`max_tokenize_chars`, `max_detokenize_ids`), so an HTTP client cannot hand the tokenizer more
 * than a socket client may (issue 11 §3).
 */
import { expect } from 'chai';
import { startTestHost, type TestHost } from './helpers/host.js';

describe('token routes: the socket\'s caps hold over HTTP', function () {
  this.timeout(60_000);
  let host: TestHost;
  before(async () => {
    host = await startTestHost({ config: { max_tokenize_chars: 100, max_detokenize_ids: 10 } });
  });
  after(() => host?.stop());

  const post = async (route: string, body: unknown) => {
    const response = await fetch(`${host.url}${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: response.status, body: (await response.json()) as { tokens?: number[]; content?: string; error?: { message: string } } };
  };

  it('tokenize: a text at max_tokenize_chars is tokenized; one character more is refused with 400 naming the key', async () => {
    const at = await post('/tokenize', { content: 'a'.repeat(100) });
    expect(at.status).to.equal(200);
    expect(at.body.tokens!.length).to.be.greaterThan(0);
    const over = await post('/tokenize', { content: 'a'.repeat(101) });
    expect(over.status).to.equal(400);
    expect(over.body.error!.message).to.contain('max_tokenize_chars');
  });

  it('detokenize: max_detokenize_ids ids are answered; one more is refused with 400 naming the key', async () => {
    const at = await post('/detokenize', { tokens: Array.from({ length: 10 }, () => 100) });
    expect(at.status).to.equal(200);
    expect(at.body.content).to.be.a('string');
    const over = await post('/detokenize', { tokens: Array.from({ length: 11 }, () => 100) });
    expect(over.status).to.equal(400);
    expect(over.body.error!.message).to.contain('max_detokenize_ids');
  });
});
