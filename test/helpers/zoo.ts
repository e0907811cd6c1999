import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** A 1x1 PNG, for `assets/logo.png` fixtures. */
export const TINY_PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);

/** Write a personality folder `<root>/<rel>` with `config.yaml` text and optional files (relative path → content). */
export async function writePersonality(root: string, rel: string, configYaml: string, files: Record<string, string | Buffer> = {}): Promise<string> {
  const folder = join(root, ...rel.split('/'));
  await mkdir(folder, { recursive: true });
  await writeFile(join(folder, 'config.yaml'), configYaml);
  for (const [name, content] of Object.entries(files)) {
    await mkdir(join(folder, name, '..'), { recursive: true });
    await writeFile(join(folder, name), content);
  }
  return folder;
}

/** A conditioning-only personality with fixed, placeholder-free text, for exact prompt assertions. */
export const PROMPT_FIXTURE_CONFIG = `name: Prompt Fixture
author: tests
version: 2.0.0
personality_conditioning: "!@>instructions: answer briefly.\\n"
welcome_message: ""
include_welcome_message_in_disucssion: false
user_message_prefix: "!@> Human:\\n"
link_text: "\\n"
ai_message_prefix: "!@> Assistant:\\n"
anti_prompts: ["!@>"]
model_temperature: 0.7
model_n_predicts: 12
model_top_k: 40
model_top_p: 0.9
model_repeat_penalty: 1.1
model_repeat_last_n: 32
`;
