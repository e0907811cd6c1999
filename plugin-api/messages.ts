/**
 * LoLLMs message types, with the stable numbers of lollms `MSG_TYPE` (from 2023-07-06 on; 16 is unused).
 * Only CHUNK travels as `text_chunk`; every other type goes out as `generation_message {type, type_name, ...}`.
 */
export const MSG_TYPE = {
  MSG_TYPE_CHUNK: 0,
  MSG_TYPE_FULL: 1,
  MSG_TYPE_FULL_INVISIBLE_TO_AI: 2,
  MSG_TYPE_FULL_INVISIBLE_TO_USER: 3,
  MSG_TYPE_EXCEPTION: 4,
  MSG_TYPE_WARNING: 5,
  MSG_TYPE_INFO: 6,
  MSG_TYPE_STEP: 7,
  MSG_TYPE_STEP_START: 8,
  MSG_TYPE_STEP_PROGRESS: 9,
  MSG_TYPE_STEP_END: 10,
  MSG_TYPE_JSON_INFOS: 11,
  MSG_TYPE_REF: 12,
  MSG_TYPE_CODE: 13,
  MSG_TYPE_UI: 14,
  MSG_TYPE_NEW_MESSAGE: 15,
  MSG_TYPE_FINISHED_MESSAGE: 17,
} as const;

export type MsgTypeName = keyof typeof MSG_TYPE;
export type MsgType = (typeof MSG_TYPE)[MsgTypeName];

/** The `MSG_TYPE_*` name of a number, for `generation_message.type_name`. */
export function msgTypeName(type: number): MsgTypeName | undefined {
  return (Object.keys(MSG_TYPE) as MsgTypeName[]).find((name) => MSG_TYPE[name] === type);
}
