/**
 * The bench of the adversarial suite (issue 6). Every case is a real `scripts/processor.ts` (a file of the
 * class folder's `cases/`), copied into a personality folder of a temp zoo, mounted with `add_personality` on
 * a real host and run with `generate_text` over socket.io. The bench checks what every case must show: the
 * attack's effect did not happen (no secret in any event, host prototypes clean), the host answered within
 * the limit plus a margin, and the host is healthy afterwards (another client's raw generation completes,
 * `GET /health` is 200).
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HostConfig } from '../../core/config.js';
import { withCpuOf } from '../helpers/cpu.js';
import { generate, request, startTestHost, type TestHost, type TestSocket } from '../helpers/host.js';

/**
 * Small limits keep the suite fast (2-core machine). The wall time limit is the backstop, never what ends a case:
 * the CPU limit counts CPU, and on a busy machine 300 ms of it can take seconds on the clock.
 */
export const SECURITY_LIMITS = {
  sandbox_cpu_time_ms: 300,
  sandbox_memory_limit_mb: 32,
  sandbox_wall_time_ms: 60_000,
  sandbox_max_host_calls: 1_000,
  sandbox_max_emit_bytes: 1024 * 1024,
} satisfies Partial<HostConfig>;

/**
 * Slack on top of a limit: the isolate's stop, a stuck isolate ending its sandbox process (750 ms), a new
 * sandbox process for the next call, a loaded CI machine.
 */
export const MARGIN_MS = 1_500;

/**
 * CPU a sandbox process may spend on an attack beyond the CPU limit: its timers and IPC, a new context and the
 * bootstrap, disposing the isolate after the breach, a late watchdog sample. Measured as CPU, this bound does not
 * depend on how busy the machine is.
 */
export const CPU_MARGIN_MS = 250;

const KIT = fileURLToPath(new URL('./kit/escape-kit.ts', import.meta.url));

/** The host-side prototypes, as they were before any case ran. */
const PROTOTYPES: Array<[string, object]> = [
  ['Object.prototype', Object.prototype],
  ['Array.prototype', Array.prototype],
  ['Function.prototype', Function.prototype],
  ['String.prototype', String.prototype],
  ['Promise.prototype', Promise.prototype],
  ['Error.prototype', Error.prototype],
];
const PROTOTYPE_KEYS = new Map(PROTOTYPES.map(([name, proto]) => [name, Reflect.ownKeys(proto).map(String).sort()]));

export type Events = Array<[string, unknown]>;

export interface AttackResult {
  text?: string;
  error?: string;
  ms: number;
  events: Events;
  /** CPU the personality's sandbox process spent during the attack (ms); undefined when the process ended. */
  cpuMs?: number | undefined;
}

export interface CaseOptions {
  /** Extra config.yaml lines. */
  config?: string;
  /** Extra files in the personality folder (relative path → content). */
  files?: Record<string, string>;
  /** The case file to use (`cases/<processor>.processor.ts`) when it is not the personality's name. */
  processor?: string;
}

export class SecurityBench {
  readonly secret = `LH-SECRET-${randomBytes(12).toString('hex')}`;
  /** A file outside every personality folder, holding `secret`. */
  secretFile = '';
  zoo = '';
  host!: TestHost;
  attacker!: TestSocket;
  bystander!: TestSocket;
  readonly #ids = new Map<string, number>();

  constructor(
    /** The class folder (`new URL('.', import.meta.url)` of its test). */
    readonly folder: URL,
    readonly config: Partial<HostConfig> = {},
  ) {}

  async start(): Promise<this> {
    this.zoo = await mkdtemp(join(tmpdir(), 'lh-security-'));
    this.secretFile = join(this.zoo, 'SECRET.txt');
    await writeFile(this.secretFile, this.secret);
    this.host = await startTestHost({ config: { personalities_paths: [this.zoo], ...SECURITY_LIMITS, ...this.config } });
    await writeFile(join(this.host.dataDir, 'secret.txt'), this.secret);
    this.attacker = await this.host.connect();
    this.bystander = await this.host.connect();
    return this;
  }

  async stop(): Promise<void> {
    await this.host?.stop();
    if (this.zoo) await rm(this.zoo, { recursive: true, force: true });
  }

  /** The case file `cases/<name>.processor.ts` of this class. */
  caseFile(name: string): string {
    return fileURLToPath(new URL(`./cases/${name}.processor.ts`, this.folder));
  }

  /** Write the personality `sec/<name>` (its processor is the case file, plus the escape kit) into the zoo. */
  async writeCase(name: string, options: CaseOptions = {}): Promise<string> {
    const dir = join(this.zoo, 'sec', name);
    await mkdir(join(dir, 'scripts'), { recursive: true });
    await writeFile(join(dir, 'config.yaml'), `name: ${name}\nauthor: security-suite\nversion: 1.0.0\npersonality_conditioning: "test"\nanti_prompts: []\nmodel_n_predicts: 16\n${options.config ?? ''}`);
    await copyFile(this.caseFile(options.processor ?? name), join(dir, 'scripts', 'processor.ts'));
    await copyFile(KIT, join(dir, 'scripts', 'kit.ts'));
    for (const [rel, text] of Object.entries(options.files ?? {})) {
      await mkdir(dirname(join(dir, rel)), { recursive: true });
      await writeFile(join(dir, rel), text);
    }
    return dir;
  }

  /** Mount `sec/<name>` (written first when needed) and return its id. */
  async add(name: string, options: CaseOptions = {}): Promise<number> {
    const known = this.#ids.get(name);
    if (known !== undefined) return known;
    await this.writeCase(name, options);
    const reply = (await request(this.attacker, 'add_personality', { path: `sec/${name}` }, 'personality_added', 30_000)) as { id: number };
    this.#ids.set(name, reply.id);
    return reply.id;
  }

  /** `add_personality` expected to fail: the error text and the time it took. */
  async addFails(name: string, options: CaseOptions = {}): Promise<{ error: string; ms: number; events: Events }> {
    await this.writeCase(name, options);
    const events = record(this.attacker);
    const start = performance.now();
    try {
      const reply = (await request(this.attacker, 'add_personality', { path: `sec/${name}` }, 'personality_add_failed', 30_000)) as { error: string };
      return { error: reply.error, ms: performance.now() - start, events: events.stop() };
    } finally {
      events.stop();
    }
  }

  /** The sandbox of a mounted case (for process ids and counters). */
  sandbox(id: number) {
    const processor = this.host.host.personalities.get(id)?.current?.processor;
    if (!processor) throw new Error(`personality ${id} has no processor`);
    return processor;
  }

  /** Run `generate_text` with personality `name` from the attacker's socket, recording every event it receives. */
  async attack(name: string, prompt = 'attack', options: CaseOptions & { socket?: TestSocket } = {}): Promise<AttackResult> {
    const id = await this.add(name, options);
    const socket = options.socket ?? this.attacker;
    const events = record(socket);
    const start = performance.now();
    try {
      const pid = () => this.host.host.personalities.get(id)?.current?.processor?.pid;
      const { value: result, cpuMs } = await withCpuOf(pid, () => generate(socket, { prompt, personality: id, n_predicts: 8 }));
      return { ...result, ms: performance.now() - start, events: events.stop(), cpuMs };
    } finally {
      events.stop();
    }
  }

  /**
   * The attack was stopped by the CPU limit, at the limit: its error says so, and the sandbox process spent at
   * most the limit plus a margin of CPU. When the process ended itself (a builtin that ignored termination), the
   * figure the error reports is checked instead, and the process must have been replaced.
   */
  expectStoppedByCpu(result: AttackResult, name: string, cpuLimitMs = SECURITY_LIMITS.sandbox_cpu_time_ms): void {
    expect(result.error).to.match(new RegExp(`personality "${name}": processor exceeded its CPU time limit \\(${cpuLimitMs} ms\\)`));
    if (result.cpuMs !== undefined) {
      expect(result.cpuMs, 'CPU of the sandbox process').to.be.below(cpuLimitMs + CPU_MARGIN_MS);
      return;
    }
    const charged = Number(/: (\d+) ms used/.exec(result.error ?? '')?.[1]);
    expect(charged, `the CPU figure of: ${result.error}`).to.be.within(cpuLimitMs, cpuLimitMs + CPU_MARGIN_MS);
  }

  /** The checks every case ends with. `maxMs`: the limit the attack ran into, or undefined to skip timing. */
  async expectContained(result: { ms: number; events: Events }, maxMs?: number): Promise<void> {
    this.expectNoSecret(result.events);
    expectPrototypesClean();
    if (maxMs !== undefined) expect(result.ms, 'answered within the limit plus a margin').to.be.below(maxMs + MARGIN_MS);
    await this.expectHealthy();
  }

  expectNoSecret(events: Events): void {
    const seen = JSON.stringify(events);
    expect(seen.includes(this.secret), 'the planted secret reached an event').to.equal(false);
  }

  /** Another client's raw generation completes and /health answers 200. */
  async expectHealthy(): Promise<void> {
    const raw = await generate(this.bystander, { prompt: 'Hello', personality: -1, n_predicts: 4 });
    expect(raw.error, `bystander's raw generation failed: ${raw.error}`).to.equal(undefined);
    expect(raw.text).to.be.a('string');
    const health = await fetch(`${this.host.url}/health`);
    expect(health.status).to.equal(200);
    await health.body?.cancel();
  }
}

/** Record every event `socket` receives until `stop()`. */
export function record(socket: TestSocket): { events: Events; stop(): Events } {
  const events: Events = [];
  const listener = (event: string, payload: unknown) => events.push([event, payload]);
  socket.onAny(listener);
  return {
    events,
    stop() {
      socket.offAny(listener);
      return events;
    },
  };
}

/** The host process's own prototypes carry exactly the keys they had before the suite ran, and no `polluted` value leaks through. */
export function expectPrototypesClean(): void {
  for (const [name, proto] of PROTOTYPES) {
    expect(Reflect.ownKeys(proto).map(String).sort(), `${name} was changed`).to.deep.equal(PROTOTYPE_KEYS.get(name));
  }
  const probe = {} as Record<string, unknown>;
  for (const key of ['polluted', 'isAdmin', 'toJSON', 'then']) expect(probe[key], `({}).${key}`).to.equal(undefined);
  expect(([] as unknown as Record<string, unknown>)['polluted']).to.equal(undefined);
}

/** Resident memory of a process in bytes (Linux /proc), 0 once it is gone. */
export async function rssOf(pid: number | undefined): Promise<number> {
  if (!pid) return 0;
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

/** Sample a process's resident memory every `everyMs` until `stop()`; returns the peak seen. */
export function sampleRss(pid: number | undefined, everyMs = 1): { stop(): Promise<number> } {
  let peak = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      peak = Math.max(peak, await rssOf(pid));
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return peak;
    },
  };
}

/** Parse the JSON report a probing case returns as its answer. */
export function report<T = Record<string, unknown>>(result: AttackResult): T {
  expect(result.error, `the case failed instead of reporting: ${result.error}`).to.equal(undefined);
  return JSON.parse(result.text ?? 'null') as T;
}
