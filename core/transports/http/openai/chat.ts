/**
 * `POST /v1/chat/completions`. The loaded model answers a `chat` generation (its chat template, formats,
 * tools); a personality model answers a personality turn driven by the messages (its conditioning with the
 * client's system messages added, the earlier messages as its discussion, the last user message as the prompt,
 * its processor hooks).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GenerationRequest } from '../../../generation/types.js';
import type { HttpDeps } from '../deps.js';
import { readJsonBody } from '../respond.js';
import { formatOf, rejectUnsupportedChat, toChatMessages, toolChoiceOf, toolsOf } from './chat-request.js';
import { chatShape } from './chat-response.js';
import { httpClient } from './client.js';
import { MAX_API_BODY_BYTES } from './limits.js';
import { resolveModel } from './models.js';
import { samplingOf, stopOf } from './params.js';
import { ChatCompletionRequestSchema, parseBody } from './schemas.js';
import { connectionSignal } from '../respond.js';
import { responseId, serveGeneration } from './serve.js';

export async function chatCompletions(deps: HttpDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const signal = connectionSignal(res);
  const body = parseBody(ChatCompletionRequestSchema, await readJsonBody(req, MAX_API_BODY_BYTES));
  rejectUnsupportedChat(body);
  const messages = toChatMessages(body.messages);
  const served = await resolveModel(deps, body.model);
  const tools = toolsOf(body.tools);
  const toolChoice = toolChoiceOf(body.tool_choice);
  const format = formatOf(body.response_format);
  const stop = stopOf(body.stop);
  const stream = body.stream === true;
  const includeUsage = stream && body.stream_options?.include_usage === true;
  const common = {
    client: httpClient(req, body.user ?? undefined),
    messages,
    sampling: samplingOf(body, body.max_completion_tokens ?? body.max_tokens),
    ...(stop ? { stop } : {}),
    ...(tools ? { tools } : {}),
    ...(toolChoice ? { toolChoice } : {}),
    ...(format ? { format } : {}),
    queue: 'wait' as const,
    signal,
  };
  const request: GenerationRequest =
    served.kind === 'personality' ? { ...common, kind: 'personality', personality: { path: served.path } } : { ...common, kind: 'chat' };
  const id = responseId('chatcmpl');
  const head = { id, created: Math.floor(Date.now() / 1000), model: body.model };
  await serveGeneration(deps, res, request, chatShape(head, includeUsage), { stream, includeUsage, id });
}
