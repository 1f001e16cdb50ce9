import type { RetrievedChunkRecord } from '../../model.js';
import type { ChatTurn } from '../llm/index.js';

/** The chunks as numbered sources, [1] first: the markers answers cite. */
export function numberedSources(chunks: readonly RetrievedChunkRecord[]): string {
  return chunks
    .map((chunk, index) => `[${index + 1}] ${chunk.document.title}\n${chunk.text}`)
    .join('\n\n');
}

export const CITE_INSTRUCTION =
  'Answer from the numbered sources below. Cite the sources you use with their markers, like [1] or [2][3]. If the sources do not answer the question, say so.';

/** The system turn that grounds an answer in `chunks` (none without sources). */
export function groundingTurn(chunks: readonly RetrievedChunkRecord[]): ChatTurn | undefined {
  if (chunks.length === 0) return undefined;
  return {
    role: 'system',
    content: `${CITE_INSTRUCTION}\n\nSources:\n\n${numberedSources(chunks)}`,
  };
}

/** The whole prompt of ragQuery's `answer`. */
export function answerTurns(question: string, chunks: readonly RetrievedChunkRecord[]): ChatTurn[] {
  const grounding = groundingTurn(chunks);
  return [
    grounding ?? {
      role: 'system',
      content: 'No source matched the question: say that nothing in the documents answers it.',
    },
    { role: 'user', content: question },
  ];
}
