/**
 * `lollms-host ps`: what a running host is doing, as `ollama ps` shows it: the loaded model, the slots and the
 * queue, the remote endpoints of a model served by them (openai_remote), the mounted personalities and the last
 * generations. It reads `GET /status` (docs/protocol.md), so it
 * shows the same as the console; `--json` prints that body as is, for scripts.
 */
import { parseArgs } from 'node:util';
import { CliUsage, errorMessage } from '../../errors.js';
import { RUNNING_HOST_OPTIONS, RUNNING_HOST_USAGE, fetchStatus, locateRunningHost, runningHostFlags } from '../running-host.js';
import type { StatusReport } from './status.js';

interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export const PS_USAGE = `lollms-host ps ${RUNNING_HOST_USAGE} [--json]`;

/** How many of the recent generations `ps` prints (the newest). */
const RECENT_SHOWN = 5;

/** Columns padded to their widest cell. */
function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join('   ').trimEnd());
}

/** The human report of a status. */
export function formatStatus(url: string, status: StatusReport): string {
  const lines = [`lollms-host ${status.version} at ${url}`];
  const model = status.model === null ? (status.loading ? '(none yet)' : '(none)') : `${status.model}${status.test_model ? '  (random-weight TEST model: gibberish)' : ''}`;
  lines.push(`binding         ${status.binding ?? '(none)'}`);
  lines.push(`model           ${model}`);
  if (status.loading) lines.push(`loading         ${status.loading}`);
  lines.push(`slots           ${status.slots.busy} busy of ${status.slots.total}`);
  lines.push(`queue           ${status.queue.depth} waiting`);
  if (status.endpoints && status.endpoints.length > 0) {
    // A model served by remote engines (openai_remote): each endpoint's state, load, failures and latency.
    const healthy = status.endpoints.filter((e) => e.healthy).length;
    lines.push('');
    lines.push(`endpoints       ${healthy} healthy of ${status.endpoints.length}`);
    lines.push(
      ...table([
        ['  NAME', 'URL', 'HEALTHY', 'IN FLIGHT', 'REQUESTS', 'FAILURES', 'LATENCY', 'LAST ERROR'],
        ...status.endpoints.map((e) => [
          `  ${e.name}`,
          e.url,
          e.healthy ? 'yes' : `no${e.next_probe_at ? ` (probe ${e.next_probe_at})` : ''}`,
          `${e.in_flight}/${e.limit}`,
          String(e.requests),
          String(e.failures),
          e.latency_ms === null ? '-' : `${Math.round(e.latency_ms)} ms`,
          e.last_error ?? '-',
        ]),
      ]),
    );
  }
  lines.push('');
  if (status.personalities.length === 0) lines.push('personalities   none mounted');
  else {
    lines.push('personalities');
    lines.push(...table([['  ID', 'NAME', 'PATH', 'STATE'], ...status.personalities.map((p) => [`  ${p.id}`, p.name, p.path, p.error === undefined ? 'ok' : `error: ${p.error}`])]));
  }
  const recent = status.recent_generations.slice(-RECENT_SHOWN).reverse();
  lines.push('');
  if (recent.length === 0) lines.push('generations     none yet');
  else {
    lines.push(`generations (last ${recent.length}, newest first)`);
    lines.push(
      ...table([
        ['  ENDED', 'MODE', 'PERSONALITY', 'PROMPT', 'ANSWER', 'TOKENS/S', 'OUTCOME'],
        ...recent.map((g) => [
          `  ${g.ended_at}`,
          `${g.mode} (${g.transport})`,
          g.personality ?? '-',
          String(g.prompt_tokens),
          String(g.completion_tokens),
          g.tokens_per_s === null ? '-' : g.tokens_per_s.toFixed(1),
          g.outcome === 'error' && g.error ? `error ${g.error}` : g.outcome,
        ]),
      ]),
    );
  }
  return `${lines.join('\n')}\n`;
}

export async function psCommand(argv: string[], io: Io, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { ...RUNNING_HOST_OPTIONS, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, allowPositionals: false, strict: true });
  } catch (error) {
    throw CliUsage(`ps: ${errorMessage(error)}`);
  }
  if (parsed.values.help) {
    io.stdout.write(`${PS_USAGE}\n  what a running host has loaded, its slots and queue, its remote endpoints, its personalities and last generations (GET /status)\n`);
    return 0;
  }
  const host = await locateRunningHost(runningHostFlags(parsed.values), env);
  const status = await fetchStatus(host);
  io.stdout.write(parsed.values.json ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(host.url, status));
  return 0;
}
