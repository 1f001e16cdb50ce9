import { describe, expect, it } from 'vitest';
import { TEXT_OPERATIONS } from '../../../src/model.js';
import { offlineAnswer } from '../../../src/services/llm/local-text.js';
import { OPERATIONS, parseModelJson } from '../../../src/services/text/operations.js';
import { parseOptions } from '../../../src/services/text/options.js';

describe('text operations: options, model answers and the offline responder', () => {
  it('fills the defaults of each operation and refuses what it does not take', () => {
    expect(parseOptions('SUMMARIZE', null)).toEqual({ maxWords: 100, maxItems: 5, language: null });
    expect(parseOptions('KEY_POINTS', { maxPoints: 3, language: 'pt-BR' })).toEqual({
      maxWords: 100,
      maxItems: 3,
      language: 'pt-BR',
    });
    expect(parseOptions('QUESTIONS', { maxQuestions: 7 }).maxItems).toBe(7);
    expect(() => parseOptions('QUESTIONS', { maxPoints: 7 })).toThrow(/unknown option "maxPoints"/);
    expect(() => parseOptions('SENTIMENT', { maxWords: 50 })).toThrow(/unknown option/);
    expect(() => parseOptions('ANSWER', { maxWords: 501 })).toThrow(/options.maxWords/);
    expect(() => parseOptions('SUMMARIZE', [1, 2])).toThrow(/Invalid options/);
  });

  it('an unknown option is named, cut short, never whole', () => {
    const long = 'k'.repeat(500);
    try {
      parseOptions('SUMMARIZE', { [long]: 1 });
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message.length).toBeLessThan(160);
    }
  });

  it('reads JSON whole or in a code fence, and nothing else', () => {
    expect(parseModelJson('{"a":1}')).toEqual({ a: 1 });
    expect(parseModelJson('```json\n{"a":1}\n```')).toEqual({ a: 1 });
    expect(parseModelJson('Here: {"a":1}')).toBeUndefined();
  });

  it('validates each operation’s answer and cuts lists to the limit', () => {
    const options = { maxWords: 100, maxItems: 2, language: null };
    expect(OPERATIONS.SENTIMENT.read({ label: 'POSITIVE', confidence: 1.2 }, options)).toBeNull();
    expect(OPERATIONS.SENTIMENT.read({ label: 'happy', confidence: 0.5 }, options)).toBeNull();
    expect(OPERATIONS.SUMMARIZE.read({ summary: '  ' }, options)).toBeNull();
    expect(OPERATIONS.KEY_POINTS.read({ points: [] }, options)).toBeNull();
    expect(OPERATIONS.QUESTIONS.read({ questions: ['a', 'b', 'c'] }, options)).toEqual({
      questions: ['a', 'b'],
    });
    // Extra keys from a model in JSON mode are ignored, not fatal.
    expect(OPERATIONS.ANSWER.read({ answer: 'yes', note: 'x' }, options)).toEqual({
      answer: 'yes',
    });
  });

  it.each(TEXT_OPERATIONS)(
    'the offline %s answer passes its own operation’s validation',
    (operation) => {
      const answer = offlineAnswer({
        operation,
        text: 'One idea here. Another idea there! A third?',
        question: 'Which idea is there?',
        maxItems: 2,
        maxWords: 20,
      });
      const options = { maxWords: 20, maxItems: 2, language: null };
      const fields = OPERATIONS[operation].read(answer, options);
      expect(fields).not.toBeNull();
      if (operation !== 'SENTIMENT') expect(JSON.stringify(fields)).toContain('offline');
    },
  );

  it('every upstream schema is strict: all properties required, no others', () => {
    for (const spec of Object.values(OPERATIONS)) {
      const schema = spec.output.schema as {
        properties: object;
        required: string[];
        additionalProperties: boolean;
      };
      expect(schema.additionalProperties).toBe(false);
      expect(schema.required.sort()).toEqual(Object.keys(schema.properties).sort());
      expect(spec.output.name).toMatch(/^[a-zA-Z0-9_-]{1,64}$/);
    }
  });
});
