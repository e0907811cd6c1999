/**
 * `lollms-host run <model | personality> [prompt]`: a chat in the terminal, as `ollama run` gives one, against the
 * running host (found as `ps` finds it) or, when none answers, a host started in this process on the same data.
 * It streams the answer to stdout, shows a personality's steps on stderr as they happen, cancels the generation
 * on Ctrl-C and exits on a second Ctrl-C (or Ctrl-D, or `/bye`). With a prompt it answers once and exits.
 *
 * A model is chatted with through the built-in `english/generic/lollms` personality (its conditioning and the
 * discussion, kept across turns); `--raw` sends each line to the model as a raw prompt instead. A personality it
 * mounted itself is unmounted when it exits.
 */
import { parseArgs } from 'node:util';
import { createInterface, type Interface } from 'node:readline';
import { CliUsage, errorMessage } from '../../errors.js';
import { LollmsClient, CanceledError, type GenerationMessage } from '../../../client/index.js';
import { MSG_TYPE } from '../../../plugin-api/messages.js';
import { RUNNING_HOST_OPTIONS, RUNNING_HOST_USAGE, fetchStatus, locateRunningHost, runningHostFlags, type RunningHost } from '../running-host.js';

interface Io {
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

/** A host started in this process when none runs; `cli.ts` provides it (only it may build a host). */
export type StartInProcessHost = (options: { dataDir?: string; configFile?: string; modelName?: string }) => Promise<{ url: string; close(): Promise<void> }>;

export const RUN_USAGE = `lollms-host run <model | language/category/personality> [prompt] [--raw] [--n-predict N] ${RUNNING_HOST_USAGE}`;

/** The personality a model is chatted with. */
export const CHAT_PERSONALITY = 'english/generic/lollms';

/** Two process SIGINTs this close are one key press: a terminal's Ctrl-C reaches the bin wrapper, which forwards it, and this process. */
const SAME_PRESS_MS = 300;

/** How a step or notice of a personality is shown (stderr), by message type. */
const MESSAGE_MARKS: Partial<Record<number, string>> = {
  [MSG_TYPE.MSG_TYPE_STEP_START]: '▸',
  [MSG_TYPE.MSG_TYPE_STEP_END]: '✓',
  [MSG_TYPE.MSG_TYPE_STEP]: '•',
  [MSG_TYPE.MSG_TYPE_STEP_PROGRESS]: '…',
  [MSG_TYPE.MSG_TYPE_INFO]: 'i',
  [MSG_TYPE.MSG_TYPE_WARNING]: '!',
  [MSG_TYPE.MSG_TYPE_EXCEPTION]: '✗',
};

/** The one line a processor message shows, or undefined for those a terminal does not show (UI, JSON...). */
export function messageLine(message: GenerationMessage): string | undefined {
  const mark = MESSAGE_MARKS[message.type];
  if (mark === undefined) return undefined;
  if (message.type === MSG_TYPE.MSG_TYPE_STEP_END && message.metadata['status'] === false) return `  ✗ ${message.content}`;
  const progress = message.type === MSG_TYPE.MSG_TYPE_STEP_PROGRESS && typeof message.metadata['progress'] === 'number' ? ` ${message.metadata['progress']}%` : '';
  return `  ${mark} ${message.content}${progress}`;
}

/** What `run` talks to: the session of one chat. */
interface Session {
  client: LollmsClient;
  /** The mounted personality's id, or -1 for raw prompts. */
  personality: number;
  /** Undo what the session changed on the host (a personality it mounted), and close what it opened. */
  close(): Promise<void>;
}

/** Whether a name is a personality path (`language/category/name` or `category/name`) rather than a model file. */
function isPersonalityPath(name: string): boolean {
  return name.includes('/');
}

async function openSession(host: RunningHost, target: string, raw: boolean, onClose: () => Promise<void>, io: Io): Promise<Session> {
  const client = new LollmsClient({ url: host.url, ...(host.apiKey ? { apiKey: host.apiKey } : {}), transports: ['websocket'], timeoutMs: 0, socketOptions: { reconnection: false } });
  const cleanups: Array<() => Promise<unknown>> = [];
  const close = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
    await client.close();
    await onClose();
  };
  try {
    await client.connect();
    const status = await fetchStatus(host);
    let personalityPath: string | undefined = CHAT_PERSONALITY;
    if (isPersonalityPath(target)) personalityPath = target;
    else {
      if (status.model !== target) {
        io.stderr.write(`loading ${target}...\n`);
        await client.selectModel(target);
      }
      if (raw) personalityPath = undefined;
    }
    if (personalityPath === undefined) return { client, personality: -1, close };
    const mounted = status.personalities.find((p) => p.path === personalityPath && p.error === undefined);
    if (mounted) return { client, personality: mounted.id, close };
    const added = await client.addPersonality(personalityPath);
    cleanups.push(() => client.removePersonality(added.id));
    return { client, personality: added.id, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * Ctrl-C: the first cancels the running generation (or, at the prompt, says how to leave), a second one exits.
 * Typing a new line disarms it.
 */
class Interrupts {
  #armed = false;
  #lastSignalAt = 0;
  #running: AbortController | undefined;
  constructor(
    private readonly say: (text: string) => void,
    private readonly exit: () => void,
  ) {}

  /** A Ctrl-C; `fromSignal` for a process SIGINT (may arrive twice for one press on a terminal). */
  press(fromSignal: boolean, terminal: boolean): void {
    if (fromSignal && terminal) {
      const now = performance.now();
      const same = now - this.#lastSignalAt < SAME_PRESS_MS;
      this.#lastSignalAt = now;
      if (same) return;
    }
    if (this.#armed) return this.exit();
    this.#armed = true;
    if (this.#running && !this.#running.signal.aborted) {
      this.#running.abort();
      return;
    }
    this.say('(Ctrl-C again, Ctrl-D or /bye to exit)\n');
  }

  /** A generation starts; its controller is aborted by the next Ctrl-C. */
  start(): AbortController {
    this.#armed = false;
    this.#running = new AbortController();
    return this.#running;
  }

  ended(): void {
    this.#running = undefined;
  }
}

/** One turn: stream the answer to stdout and the steps to stderr. A cancel or an error is said on stderr. */
async function turn(session: Session, prompt: string, controller: AbortController, nPredicts: number | undefined, io: Io): Promise<void> {
  const generation = session.client.generate(prompt, {
    personality: session.personality,
    signal: controller.signal,
    ...(nPredicts !== undefined ? { nPredicts } : {}),
    onChunk: (chunk) => io.stdout.write(chunk),
    onMessage: (message) => {
      const line = messageLine(message);
      if (line !== undefined) io.stderr.write(`\n${line}\n`);
    },
  });
  try {
    const text = await generation.text;
    // The answer is not always the chunks joined (a processor may rewrite it): then show it as well.
    if (text !== generation.streamed) io.stdout.write(`${generation.streamed ? '\n── answer ──\n' : ''}${text}`);
    io.stdout.write('\n');
  } catch (error) {
    if (error instanceof CanceledError) io.stderr.write('\n(cancelled; Ctrl-C again to exit)\n');
    else io.stderr.write(`\nerror: ${errorMessage(error)}\n`);
  }
}

export async function runCommand(argv: string[], io: Io, startInProcess: StartInProcessHost, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...RUNNING_HOST_OPTIONS, raw: { type: 'boolean' }, 'n-predict': { type: 'string' }, n_predict: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw CliUsage(`run: ${errorMessage(error)}`);
  }
  if (parsed.values.help) {
    io.stdout.write(`${RUN_USAGE}\n  chat in the terminal with a model or a personality of the running host (or of one started in this process)\n`);
    return 0;
  }
  const [target, ...words] = parsed.positionals;
  if (target === undefined || target === '') throw CliUsage('run needs a model (a file name as `lollms-host list` shows it) or a personality (language/category/name)');
  const nPredictText = parsed.values['n-predict'] ?? parsed.values.n_predict;
  const nPredicts = nPredictText === undefined ? undefined : Number(nPredictText);
  if (nPredicts !== undefined && (!Number.isInteger(nPredicts) || nPredicts < 1)) throw CliUsage(`--n-predict: "${nPredictText}" is not a positive whole number`);
  const flags = runningHostFlags(parsed.values);
  let host = await locateRunningHost(flags, env);
  let stopInProcess = async () => {};
  const answering = await fetchStatus(host).then(
    () => true,
    (error: unknown) => {
      // Only "nobody listens there" starts a host here; a host that refuses (a wrong key...) is an error.
      if (flags.url === undefined && /^no lollms-host answers/.test(errorMessage(error))) return false;
      throw error;
    },
  );
  if (!answering) {
    io.stderr.write(`no lollms-host answers at ${host.url}: starting one in this process\n`);
    const started = await startInProcess({
      ...(flags.dataDir !== undefined ? { dataDir: flags.dataDir } : {}),
      ...(flags.config !== undefined ? { configFile: flags.config } : {}),
      ...(!isPersonalityPath(target) ? { modelName: target } : {}),
    });
    host = { url: started.url, apiKey: host.apiKey };
    stopInProcess = () => started.close();
  }
  const session = await openSession(host, target, Boolean(parsed.values.raw), stopInProcess, io);
  const terminal = Boolean(io.stderr.isTTY);
  try {
    if (words.length > 0) {
      let code = 0;
      const interrupts = new Interrupts((text) => io.stderr.write(text), () => (code = 130));
      const onSignal = () => interrupts.press(true, terminal);
      process.on('SIGINT', onSignal);
      try {
        const controller = interrupts.start();
        await turn(session, words.join(' '), controller, nPredicts, io);
        if (controller.signal.aborted) code = 130;
      } finally {
        process.off('SIGINT', onSignal);
      }
      return code;
    }
    return await chat(session, nPredicts, io, terminal);
  } finally {
    await session.close();
  }
}

/** The interactive loop: a prompt, a turn per line, until Ctrl-D, `/bye` or a second Ctrl-C. */
async function chat(session: Session, nPredicts: number | undefined, io: Io, terminal: boolean): Promise<number> {
  const input = io.stdin ?? process.stdin;
  const rl: Interface = createInterface({ input, output: io.stdout, terminal: Boolean(input.isTTY && io.stdout.isTTY), prompt: '>>> ' });
  io.stderr.write('Type a message; Ctrl-C cancels the answer, Ctrl-C twice, Ctrl-D or /bye exits.\n');
  return await new Promise<number>((resolve) => {
    let busy = false;
    const lines: string[] = [];
    let finished = false;
    const finish = (code: number) => {
      if (finished) return;
      finished = true;
      process.off('SIGINT', onSignal);
      rl.close();
      resolve(code);
    };
    const interrupts = new Interrupts((text) => io.stderr.write(text), () => finish(130));
    const onSignal = () => interrupts.press(true, terminal);
    // On a terminal readline turns Ctrl-C into its own SIGINT event (raw mode); from a pipe it is a process signal.
    rl.on('SIGINT', () => interrupts.press(false, terminal));
    process.on('SIGINT', onSignal);
    const next = async () => {
      if (busy || finished) return;
      const line = lines.shift();
      if (line === undefined) {
        if (closedInput) finish(0);
        return;
      }
      const prompt = line.trim();
      if (prompt === '/bye') return finish(0);
      if (prompt === '') {
        rl.prompt();
        return next();
      }
      busy = true;
      const controller = interrupts.start();
      await turn(session, prompt, controller, nPredicts, io);
      interrupts.ended();
      busy = false;
      if (!finished) {
        if (!closedInput) rl.prompt();
        void next();
      }
    };
    let closedInput = false;
    rl.on('line', (line) => {
      lines.push(line);
      void next();
    });
    rl.on('close', () => {
      closedInput = true;
      void next();
    });
    rl.prompt();
  });
}
