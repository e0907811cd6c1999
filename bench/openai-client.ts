/**
 * The client side of bench/openai.ts: the official `openai` SDK in its own process (so that its parsing does
 * not share the host's event loop), streaming chat completions on command over IPC and answering with timings
 * measured at the client.
 */
import OpenAI from 'openai';

interface RunCommand {
  kind: 'run';
  /** Another host's URL to stream from (default: the one given at start). */
  url?: string;
  model: string;
  messages: OpenAI.ChatCompletionMessageParam[];
  max_tokens: number;
  /** Sampling fields, the llama.cpp server's extensions included (top_k, repeat_penalty). */
  sampling: Record<string, number>;
}
type Command = RunCommand | { kind: 'exit' };

const url = process.argv[2];
if (!url || !process.send) throw new Error('usage: forked with the host URL');
const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'bench', maxRetries: 0 });
const others = new Map<string, OpenAI>();
const clientFor = (other: string | undefined) => {
  if (other === undefined) return client;
  let c = others.get(other);
  if (!c) others.set(other, (c = new OpenAI({ baseURL: `${other}/v1`, apiKey: 'bench', maxRetries: 0 })));
  return c;
};
const send = (message: unknown) => process.send!(message);
const now = () => Number(process.hrtime.bigint()) / 1e6;

process.on('message', (command: Command) => {
  if (command.kind === 'exit') {
    process.disconnect();
    return;
  }
  void (async () => {
    const start = now();
    let first = 0;
    let text = '';
    let tokens = 0;
    const stream = await clientFor(command.url).chat.completions.create({
      model: command.model,
      messages: command.messages,
      max_tokens: command.max_tokens,
      stream: true,
      stream_options: { include_usage: true },
      ...(command.sampling as object),
    });
    for await (const chunk of stream) {
      const content = chunk.choices[0]?.delta.content;
      if (content) {
        if (text === '') first = now();
        text += content;
      }
      if (chunk.usage) tokens = chunk.usage.completion_tokens;
    }
    send({ firstChunkMs: first - start, totalMs: now() - start, tokens, text });
  })().catch((error: unknown) => send({ error: String(error) }));
});
send({ ready: true });
