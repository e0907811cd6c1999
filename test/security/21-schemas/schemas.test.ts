import { expect } from 'chai';
import { SecurityBench, SECURITY_LIMITS, report } from '../helpers.js';

/**
 * Class 21: schemas and grammars from a processor (issue 15). `ctx.generate({schema | grammar})`, `ctx.chat`
 * formats and tool parameters reach the engine as grammars whose size follows theirs, and llama.cpp's grammar
 * parser recurses on nesting: every bound (characters, depth, properties, tools) is checked in the sandbox
 * process before the host sees the request, and each refusal is a coded error the processor can catch.
 */
describe('security 21: schemas and grammars from processors', function () {
  this.timeout(120_000);
  const bench = new SecurityBench(new URL('.', import.meta.url), { sandbox_cpu_time_ms: 2_000 });
  before(() => bench.start());
  after(() => bench.stop());

  it('oversized, deep, malformed and self-referencing schemas and grammars are coded errors; the host stays healthy', async () => {
    const result = await bench.attack('huge-schemas');
    const codes = Object.fromEntries(report<Array<[string, string]>>(result));
    expect(codes).to.deep.equal({
      '70 KB schema': 'LH_ERR_SCHEMA_TOO_LARGE',
      'depth 200': 'LH_ERR_SCHEMA_TOO_LARGE',
      'depth 5000': 'LH_ERR_SCHEMA_TOO_LARGE',
      '2000 properties': 'LH_ERR_SCHEMA_TOO_LARGE',
      'grammar 20000 parentheses': 'LH_ERR_GRAMMAR_TOO_LARGE',
      'grammar 100 KB': 'LH_ERR_GRAMMAR_TOO_LARGE',
      'grammar unbalanced': 'LH_ERR_GRAMMAR_INVALID',
      'grammar that does not parse': 'LH_ERR_GRAMMAR_INVALID',
      'schema not a schema': 'LH_ERR_SCHEMA_INVALID',
      'lookbehind pattern': 'LH_ERR_SCHEMA_INVALID',
      // A schema that refers only to itself describes no value.
      'self-referencing $ref': 'LH_ERR_SCHEMA_INVALID',
      'chat: huge tool parameters': 'LH_ERR_SCHEMA_TOO_LARGE',
      'chat: 200 tools': 'RangeError',
      'chat: deep schema': 'LH_ERR_SCHEMA_TOO_LARGE',
      'embed: 65 texts': 'RangeError',
    });
    await bench.expectContained(result, SECURITY_LIMITS.sandbox_wall_time_ms);
  });
});
