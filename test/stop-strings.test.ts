import { expect } from 'chai';
import { foldCase, StopStringFilter } from '../plugin-api/stop-strings.js';

/** Feed `pieces` one by one; returns what was emitted (per push) and whether it stopped. */
function run(stops: readonly string[], pieces: readonly string[]) {
  const filter = new StopStringFilter(stops);
  const emitted: string[] = [];
  let stopped = false;
  for (const piece of pieces) {
    const r = filter.push(piece);
    emitted.push(r.emit);
    if (r.stopped) {
      stopped = true;
      break;
    }
  }
  const tail = stopped ? '' : filter.flush();
  return { emitted, text: emitted.join('') + tail, stopped, tail };
}

describe('StopStringFilter', () => {
  it('passes text through untouched without stop strings', () => {
    const r = run([], ['Hello', ' world']);
    expect(r.emitted).to.deep.equal(['Hello', ' world']);
    expect(r.stopped).to.equal(false);
  });

  it('cuts exactly before a stop string inside one chunk and never emits it', () => {
    const r = run(['###'], ['abc###def']);
    expect(r).to.include({ text: 'abc', stopped: true });
  });

  it('finds a stop string split across several chunks, holding back its start until decided', () => {
    const r = run(['<|end|>'], ['Hi <', '|e', 'nd', '|> tail']);
    expect(r.stopped).to.equal(true);
    expect(r.text).to.equal('Hi ');
    // Nothing of "<|end|>" was ever emitted, even while undecided.
    expect(r.emitted).to.deep.equal(['Hi ', '', '', '']);
  });

  it('releases held-back text once it is clearly not a stop string', () => {
    const r = run(['<|end|>'], ['a <|e', 'x b']);
    expect(r.emitted).to.deep.equal(['a ', '<|ex b']);
    expect(r).to.include({ text: 'a <|ex b', stopped: false });
  });

  it('releases a held-back prefix at the end (flush)', () => {
    const r = run(['STOP'], ['one ST']);
    expect(r.emitted).to.deep.equal(['one ']);
    expect(r.tail).to.equal('ST');
    expect(r.text).to.equal('one ST');
  });

  it('matches case-insensitively', () => {
    expect(run(['user:'], ['answer\nUs', 'ER: more']).text).to.equal('answer\n');
    expect(run(['ÉTÉ'], ['un été chaud']).text).to.equal('un ');
  });

  it('stops at the earliest of several stop strings', () => {
    const r = run(['bar', 'o b'], ['foo', ' bar']);
    expect(r).to.include({ text: 'fo', stopped: true });
    expect(run(['zz', 'yy'], ['a', 'y', 'b', 'z', 'z']).text).to.equal('ayb');
  });

  it('handles a stop string whose start repeats (overlapping candidates)', () => {
    expect(run(['aab'], ['a', 'a', 'a', 'b', 'c']).text).to.equal('a');
    expect(run(['abac'], ['ab', 'ab', 'ac', 'x']).text).to.equal('ab');
    expect(run(['abab'], ['ab', 'a', 'c']).text).to.equal('abac');
  });

  it('keeps indexes right when lowercasing would change the length (İ)', () => {
    // "İ".toLowerCase() is two code units; folding must not shift the cut.
    expect('İ'.toLowerCase().length).to.equal(2);
    expect(foldCase('İX')).to.have.length(2);
    expect(run(['x'], ['İİ', 'İX tail']).text).to.equal('İİİ');
    expect(run(['stop'], ['İstanbul STOP']).text).to.equal('İstanbul ');
  });

  it('folds astral letters split across chunks', () => {
    // U+10400 DESERET CAPITAL LONG I lowercases to U+10428.
    const upper = '\u{10400}';
    const lower = '\u{10428}';
    const r = run([lower], ['x', upper.slice(0, 1), upper.slice(1), 'y']);
    expect(r).to.include({ text: 'x', stopped: true });
  });

  it('ignores empty stop strings and emits nothing after a stop', () => {
    const filter = new StopStringFilter(['', 'end']);
    expect(filter.push('the end')).to.deep.equal({ emit: 'the ', stopped: true });
    expect(filter.push('more')).to.deep.equal({ emit: '', stopped: true });
    expect(filter.flush()).to.equal('');
  });
});
