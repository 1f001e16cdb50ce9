import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type DocumentInput, findFiles, isRefusal, readDocument } from '../ingest/files.js';

/** README files of installed packages, with questions written for them (see LICENSES.md). */
export const CORPUS_DIR = fileURLToPath(
  new URL('../../tests/fixtures/rag-corpus/', import.meta.url),
);

export interface Question {
  id: string;
  question: string;
  /** File names in docs/ whose text answers the question. */
  expected: string[];
}

export interface Corpus {
  /** As the ingest CLI would send them: the sourceId is the file name. */
  documents: DocumentInput[];
  questions: Question[];
}

/** Reads the corpus the way `npm run ingest` reads files, and checks every question's answers exist. */
export async function loadCorpus(directory = CORPUS_DIR): Promise<Corpus> {
  const docs = join(directory, 'docs');
  const { files } = await findFiles([docs], docs);
  const documents: DocumentInput[] = [];
  for (const file of files) {
    const read = await readDocument(file, Number.POSITIVE_INFINITY);
    if (isRefusal(read)) throw new Error(`corpus file ${read.id}: ${read.reason}`);
    documents.push(read);
  }
  const parsed = JSON.parse(await readFile(join(directory, 'questions.json'), 'utf8')) as {
    questions: Question[];
  };
  const known = new Set(documents.map((document) => document.sourceId));
  for (const question of parsed.questions) {
    const unknown = question.expected.filter((file) => !known.has(file));
    if (question.expected.length === 0 || unknown.length > 0) {
      throw new Error(`question ${question.id} expects unknown documents: ${unknown.join(', ')}`);
    }
  }
  return { documents, questions: parsed.questions };
}
