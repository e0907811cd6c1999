import { expect } from 'chai';
import { OutputValidator } from '../core/generation/output-validator.js';
import { codedRejection } from './helpers/assert.js';

/** The coded error `fn` throws. */
function thrown(fn: () => unknown) {
  return codedRejection(Promise.resolve().then(fn));
}

describe('OutputValidator (host-side JSON validation)', () => {
  const validator = new OutputValidator({ cacheSize: 4 });
  const person = {
    type: 'object',
    properties: { name: { type: 'string', maxLength: 5 }, age: { type: 'integer', minimum: 0 }, born: { type: 'string', format: 'date' } },
    required: ['name'],
    additionalProperties: false,
  };

  it('parses and validates the output of each format', async () => {
    expect(validator.parse({ type: 'json_schema', schema: person }, '{"name":"Ann","age":3,"born":"2020-02-29"}')).to.deep.equal({ name: 'Ann', age: 3, born: '2020-02-29' });
    expect(validator.parse({ type: 'json_object' }, ' {"a": [1]} ')).to.deep.equal({ a: [1] });
    expect(validator.parse({ type: 'gbnf', grammar: 'root ::= "x"' }, 'not json')).to.equal('not json');
    for (const [format, text] of [
      [{ type: 'json_object' }, '[1, 2]'],
      [{ type: 'json_object' }, '{"cut": "by the token li'],
      [{ type: 'json_schema', schema: person }, '{"name":"Annabel"}'],
      [{ type: 'json_schema', schema: person }, '{"name":"Ann","age":-1}'],
      [{ type: 'json_schema', schema: person }, '{"name":"Ann","born":"2020-02-30"}'],
      [{ type: 'json_schema', schema: person }, '{"name":"Ann","extra":1}'],
    ] as const) {
      const error = await thrown(() => validator.parse(format, text));
      expect(error.code, text).to.equal('LH_ERR_OUTPUT_INVALID');
    }
    expect((await thrown(() => validator.parse({ type: 'json_schema', schema: person }, '{"name":"Annabel"}'))).message).to.contain('/name must NOT have more than 5 characters');
  });

  it('checks tool-call arguments against each tool, and refuses tools not offered', async () => {
    const tools = [{ name: 'add', parameters: { type: 'object', properties: { a: { type: 'integer' } }, required: ['a'] } }, { name: 'now' }];
    expect(() => validator.checkToolCalls(tools, [{ id: '1', name: 'add', arguments: { a: 1 } }, { id: '2', name: 'now', arguments: {} }])).not.to.throw();
    expect((await thrown(() => validator.checkToolCalls(tools, [{ id: '1', name: 'add', arguments: { a: 'one' } }]))).code).to.equal('LH_ERR_OUTPUT_INVALID');
    expect((await thrown(() => validator.checkToolCalls(tools, [{ id: '1', name: 'rm', arguments: {} }]))).code).to.equal('LH_ERR_OUTPUT_INVALID');
  });

  it('runs patterns in linear time (RE2): a catastrophic pattern answers at once, lookarounds are refused', async () => {
    const schema = { type: 'string', pattern: '^(a+)+$' };
    expect(() => validator.validate(schema, 'aaaa')).not.to.throw();
    // With JavaScript's backtracking engine this input takes longer than the age of the universe.
    expect((await thrown(() => validator.validate(schema, `${'a'.repeat(5000)}b`))).code).to.equal('LH_ERR_OUTPUT_INVALID');
    expect((await thrown(() => validator.validate({ type: 'string', pattern: '(?=a)a' }, 'a'))).code).to.equal('LH_ERR_SCHEMA_INVALID');
    // Each pattern is its own (ajv keys compiled patterns by their text).
    expect(() => validator.validate({ type: 'string', pattern: '^b+$' }, 'bbb')).not.to.throw();
    expect((await thrown(() => validator.validate({ type: 'string', pattern: '^c+$' }, 'bbb'))).code).to.equal('LH_ERR_OUTPUT_INVALID');
  });

  it('refuses schemas that are over the bounds, invalid, or point elsewhere; keeps working past its cache size', async () => {
    expect((await thrown(() => validator.validate({ description: 'x'.repeat(70_000) }, 1))).code).to.equal('LH_ERR_SCHEMA_TOO_LARGE');
    expect((await thrown(() => validator.validate({ type: 'nope' }, 1))).code).to.equal('LH_ERR_SCHEMA_INVALID');
    expect((await thrown(() => validator.validate({ $ref: 'https://example.com/schema.json' }, 1))).code).to.equal('LH_ERR_SCHEMA_INVALID');
    // Same $id twice does not clash (schemas are not registered by id).
    for (let i = 0; i < 12; i++) {
      const schema = { $id: 'https://example.com/same', type: 'integer', maximum: i };
      expect(() => validator.validate(schema, i)).not.to.throw();
      expect((await thrown(() => validator.validate(schema, i + 1))).code).to.equal('LH_ERR_OUTPUT_INVALID');
    }
  });
});
