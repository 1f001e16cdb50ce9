import { BadInput } from '../../errors.js';

export type InputGuardMode = 'off' | 'flag' | 'block';

/** The flag a user message carries when it looks like a prompt-injection attempt. */
export const PROMPT_INJECTION_FLAG = 'PROMPT_INJECTION_SUSPECTED';

/** C0 controls and DEL, except tab and newline: nothing a person types, often an exploit. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is its job.
const CONTROL_CHARACTERS = /[\u0000-\u0008\u000B-\u001F\u007F]/;

/**
 * Phrases that try to take the model's instructions over. A heuristic, not a defence: it catches
 * the common, copy-pasted attempts in English and nothing clever, and it can flag an innocent
 * message that quotes one. The model's own system prompt and output handling stay the real line.
 */
const INJECTION_PATTERNS: readonly RegExp[] = [
  /\b(ignore|forget|disregard)\s+(all\s+|any\s+|the\s+|your\s+)*(previous|prior|above|earlier|system)\s+(instructions?|prompts?|rules|messages?)/i,
  /\b(reveal|show|print|repeat|output)\s+(me\s+)?(your|the)\s+(system\s+prompt|hidden\s+(prompt|instructions)|initial\s+instructions)/i,
  /\byou\s+are\s+now\s+(dan|in\s+developer\s+mode|jailbroken|unrestricted)\b/i,
  /<\|(im_start|im_end|system|endoftext)\|>/i,
  /\[\s*\/?(system|inst)\s*\]/i,
  /^\s*(system|assistant)\s*:/im,
];

/**
 * Checks a message before it is stored: control characters are always refused; what looks like
 * prompt injection is refused (`block`), stored with a flag (`flag`, the default) or let through
 * (`off`). Returns the message's flags.
 */
export class InputGuard {
  constructor(private readonly mode: InputGuardMode) {}

  check(content: string, field = 'content'): string[] {
    if (CONTROL_CHARACTERS.test(content)) {
      throw new BadInput(
        'The text contains control characters (only tab and newline are allowed).',
        {
          field,
          reason: 'CONTROL_CHARACTERS',
        },
      );
    }
    if (this.mode === 'off' || !INJECTION_PATTERNS.some((pattern) => pattern.test(content))) {
      return [];
    }
    if (this.mode === 'block') {
      throw new BadInput('The message looks like an attempt to override the instructions.', {
        field,
        reason: 'INPUT_GUARD',
      });
    }
    return [PROMPT_INJECTION_FLAG];
  }
}
