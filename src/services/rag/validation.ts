import { BadInput } from '../../errors.js';

export const MAX_K = 50;
export const DEFAULT_K = 5;
const COLLECTION = /^[\w.-]{1,64}$/;
const MAX_TITLE_CHARS = 300;
const MAX_SOURCE_ID_CHARS = 512;
const MAX_METADATA_CHARS = 16_384;
const MAX_QUERY_CHARS = 4_000;

/** NUL and other C0 controls but tab, newline and carriage return: binary, not text. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to find them
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;
/** A surrogate half without its other half: text that is not valid UTF-16 (or UTF-8). */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export function checkK(k: number | null | undefined, field: string): number {
  if (k === null || k === undefined) return DEFAULT_K;
  if (!Number.isInteger(k) || k < 1 || k > MAX_K) {
    throw new BadInput(`"${field}" must be between 1 and ${MAX_K}.`, { field });
  }
  return k;
}

/** A collection name, or the default one; names are letters, digits, `_`, `.` and `-`. */
export function checkCollection(collection: string | null | undefined, fallback: string): string {
  if (collection === null || collection === undefined) return fallback;
  if (!COLLECTION.test(collection)) {
    throw new BadInput('"collection" is 1–64 letters, digits, "_", "." or "-".', {
      field: 'collection',
    });
  }
  return collection;
}

/** Text to store or to search: not empty, and text (no NUL or control bytes, valid Unicode). */
export function checkText(text: string, field: string, maxChars: number): string {
  if (text.length > maxChars) {
    throw new BadInput(`"${field}" is longer than ${maxChars} characters.`, {
      field,
      maxLength: maxChars,
    });
  }
  if (text.trim() === '') throw new BadInput(`"${field}" is empty.`, { field });
  if (CONTROL.test(text) || LONE_SURROGATE.test(text)) {
    throw new BadInput(
      `"${field}" is not text: it holds NUL or control characters or invalid Unicode.`,
      { field },
    );
  }
  return text;
}

export const checkQuery = (query: string) => checkText(query, 'query', MAX_QUERY_CHARS);
export const checkTitle = (title: string) => checkText(title, 'title', MAX_TITLE_CHARS).trim();

export function checkSourceId(sourceId: string | null | undefined): string | null {
  if (sourceId === null || sourceId === undefined) return null;
  return checkText(sourceId, 'sourceId', MAX_SOURCE_ID_CHARS);
}

export function checkMetadata(metadata: unknown): unknown {
  if (metadata === undefined || metadata === null) return null;
  if (JSON.stringify(metadata).length > MAX_METADATA_CHARS) {
    throw new BadInput(`"metadata" is larger than ${MAX_METADATA_CHARS} characters of JSON.`, {
      field: 'metadata',
    });
  }
  return metadata;
}
