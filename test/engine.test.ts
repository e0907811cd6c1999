import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { getLlama, type Llama, type LlamaOptions } from 'node-llama-cpp';
import { createLlamaEngine, type EngineLogger } from '../core/bindings/engine.js';
import { codedRejection } from './helpers/assert.js';
import { startTestHost } from './helpers/host.js';
import { tinyModel } from './helpers/models.js';
import { binaryTestScript, probeBinaryTestProcess } from '../core/bindings/engine-probe.js';

/** A logger that keeps the engine's warnings. */
function recordingLogger(): EngineLogger & { warnings: string[]; infos: string[] } {
  const warnings: string[] = [];
  const infos: string[] = [];
  return {
    warnings,
    infos,
    debug() {},
    info: (_obj, msg) => void infos.push(msg ?? ''),
    warn: (_obj, msg) => void warnings.push(msg ?? ''),
    error() {},
  };
}

/**
 * node-llama-cpp's real `getLlama`, except that the first `failures` calls fail the way a binary test that never
 * came up does (issue 13: `NoBinaryFoundError` after "Binding binary test failed to run a test process").
 */
function failingFirst(failures: number): { load: (options: LlamaOptions) => Promise<Llama>; calls: () => number } {
  let calls = 0;
  return {
    calls: () => calls,
    load: async (options) => {
      calls++;
      if (calls <= failures) {
        const error = new Error('NoBinaryFoundError');
        error.name = 'NoBinaryFoundError';
        throw error;
      }
      return getLlama(options);
    },
  };
}

describe('llama.cpp engine start (issue 13: the engine must come up, or retry until it does)', function () {
  this.timeout(120_000);

  it('retries a failed start with backoff and comes up', async () => {
    const logger = recordingLogger();
    const source = failingFirst(2);
    const engine = createLlamaEngine({ gpu: false, threads: 1, logger, retryDelayMs: 10, loadLlama: source.load });
    try {
      const llama = await engine.getLlama();
      const model = await llama.loadModel({ modelPath: await tinyModel() });
      await model.dispose();
      expect(source.calls()).to.equal(3);
      expect(logger.warnings).to.deep.equal([
        // After the first failure, the binary test process is started once more with its output kept.
        "node-llama-cpp's binary test process, started again with its output kept: started and answered",
        'the llama.cpp engine did not start (attempt 1 of 5); trying again in 10 ms',
        'the llama.cpp engine did not start (attempt 2 of 5); trying again in 20 ms',
      ]);
      expect(logger.infos).to.deep.equal(['the llama.cpp engine started on attempt 3']);
      // Started once, reused after.
      expect(await engine.getLlama()).to.equal(llama);
      expect(source.calls()).to.equal(3);
    } finally {
      await engine.dispose();
    }
  });

  it('fails with LH_ERR_ENGINE after its attempts, and the next call tries again', async () => {
    const source = failingFirst(2);
    const engine = createLlamaEngine({ gpu: false, threads: 1, startAttempts: 2, retryDelayMs: 1, loadLlama: source.load, probeOnFailure: false });
    try {
      const error = await codedRejection(engine.getLlama());
      expect(error.code).to.equal('LH_ERR_ENGINE');
      expect(error.message).to.contain('2 attempts').and.contain('NoBinaryFoundError').and.contain('next request');
      expect(source.calls()).to.equal(2);
      await engine.getLlama();
      expect(source.calls()).to.equal(3);
    } finally {
      await engine.dispose();
    }
  });

  it('stops retrying when disposed', async () => {
    const source = failingFirst(Infinity);
    const engine = createLlamaEngine({ gpu: false, threads: 1, startAttempts: 50, retryDelayMs: 60_000, loadLlama: source.load, probeOnFailure: false });
    const pending = engine.getLlama();
    const settled = codedRejection(pending);
    await engine.dispose();
    const error = await settled;
    expect(error.message).to.contain('disposed');
    expect(source.calls()).to.equal(1);
  });

  it("probes node-llama-cpp's binary test process the way node-llama-cpp starts it, keeping its exit and output", async () => {
    expect(binaryTestScript()).to.match(/node-llama-cpp\/dist\/bindings\/utils\/testBindingBinary\.js$/);
    const probe = await probeBinaryTestProcess();
    expect(probe).to.deep.include({ ready: true, code: 0, signal: null });
    expect(probe!.execArgv).to.deep.equal(process.execArgv);
  });

  it('a host started many times in a row under CPU load loads its model every time', async () => {
    // Two busy processes keep both cores of the test machines loaded while the hosts start.
    const busy: ChildProcess[] = [0, 1].map(() => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
    try {
      for (let i = 0; i < 6; i++) {
        const host = await startTestHost();
        try {
          expect(host.host.bindings.model?.name, `start ${i + 1}`).to.equal('tiny-random-llama.gguf');
        } finally {
          await host.stop();
        }
      }
    } finally {
      for (const child of busy) child.kill('SIGKILL');
    }
  });
});
