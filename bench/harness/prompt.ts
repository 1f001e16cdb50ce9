/**
 * How a load generator tells the fake upstream what answer to stream: the user message itself
 * carries the shape (`bench id=… tokens=… interval=… think=… hold=…`), so one upstream serves
 * every scenario and every generation can differ, without any shared state.
 */
export interface AnswerShape {
  /** Unique per generation: the upstream records its first-token send time under it. */
  id: string;
  tokens: number;
  /** Pause between tokens; 0 sends them as fast as the socket takes them. */
  intervalMs: number;
  /** Pause before the first token (a model's "time to first token"). */
  thinkMs: number;
  /** Send nothing after the headers until the upstream is told to release held answers. */
  hold: boolean;
}

export function encodePrompt(shape: AnswerShape): string {
  return `bench id=${shape.id} tokens=${shape.tokens} interval=${shape.intervalMs} think=${shape.thinkMs} hold=${shape.hold ? 1 : 0}`;
}

const PROMPT = /^bench id=(\S+) tokens=(\d+) interval=(\d+) think=(\d+) hold=([01])$/;

export function decodePrompt(content: string): AnswerShape | undefined {
  const match = PROMPT.exec(content);
  if (!match) return undefined;
  return {
    id: match[1]!,
    tokens: Number(match[2]),
    intervalMs: Number(match[3]),
    thinkMs: Number(match[4]),
    hold: match[5] === '1',
  };
}

/** Token `index` (from 0) of every answer: short like a real token, distinct so order shows. */
export const tokenText = (index: number): string => ` t${index}`;

/** The whole answer of `tokens` tokens, for checking that what arrived is whole and in order. */
export function expectedAnswer(tokens: number): string {
  let text = '';
  for (let index = 0; index < tokens; index++) text += tokenText(index);
  return text;
}
