import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, extname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import matter from 'gray-matter';

/** Picked up when walking a folder; a file named on the command line is read whatever its name. */
const TEXT_EXTENSIONS = new Set(['.md', '.markdown', '.mdx', '.txt', '.text']);
const MARKDOWN_EXTENSIONS = new Set(['.md', '.markdown', '.mdx']);
/** The server takes titles up to 300 characters; a longer first heading is cut. */
const MAX_TITLE_CHARS = 200;

export interface SourceFile {
  path: string;
  /** The path relative to the base folder, with `/` (absolute when outside it): the sourceId. */
  id: string;
  bytes: number;
}

export interface Refusal {
  id: string;
  reason: string;
}

export interface DocumentInput {
  title: string;
  text: string;
  sourceId: string;
  metadata: { path: string; frontMatter?: Record<string, unknown> };
}

const sourceIdOf = (path: string, base: string) => {
  const inBase = relative(base, path);
  if (inBase === '' || inBase.startsWith('..') || isAbsolute(inBase))
    return path.split(sep).join('/');
  return inBase.split(sep).join('/');
};

/**
 * The files named, and the text files under the folders named (hidden entries and node_modules
 * left out), each once, in a stable order. Paths that do not exist come back as refusals.
 */
export async function findFiles(
  targets: readonly string[],
  base: string,
): Promise<{ files: SourceFile[]; missing: Refusal[] }> {
  const files = new Map<string, SourceFile>();
  const missing: Refusal[] = [];
  const add = (path: string, bytes: number) =>
    files.set(path, { path, id: sourceIdOf(path, base), bytes });
  const walk = async (folder: string): Promise<void> => {
    const entries = await readdir(folder, { withFileTypes: true });
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const entry of entries) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      const path = join(folder, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (TEXT_EXTENSIONS.has(extname(entry.name).toLowerCase())) {
        // A symlink is followed to a file, never into a folder (no cycles).
        const info = await stat(path).catch(() => undefined);
        if (info?.isFile()) add(path, info.size);
      }
    }
  };
  for (const target of targets) {
    const path = resolve(base, target);
    const info = await stat(path).catch(() => undefined);
    if (!info) missing.push({ id: sourceIdOf(path, base), reason: 'no such file or folder' });
    else if (info.isDirectory()) await walk(path);
    else add(path, info.size);
  }
  return { files: [...files.values()], missing };
}

/**
 * The ingestDocument input for a file, or why it is not sent: too large to read, unreadable, or
 * not UTF-8. Markdown front matter becomes metadata; the title is its `title`, else the first
 * heading, else the file name. Everything else (NUL bytes, empty text, length) is the server's
 * to judge.
 */
export async function readDocument(
  file: SourceFile,
  maxBytes: number,
): Promise<DocumentInput | Refusal> {
  if (file.bytes > maxBytes) {
    return { id: file.id, reason: `larger than ${maxBytes} bytes (--max-bytes)` };
  }
  let bytes: Buffer;
  try {
    bytes = await readFile(file.path);
  } catch (error) {
    return {
      id: file.id,
      reason: `unreadable (${(error as NodeJS.ErrnoException).code ?? error})`,
    };
  }
  let raw: string;
  try {
    raw = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    return { id: file.id, reason: 'not UTF-8 text' };
  }
  const name = basename(file.path, extname(file.path));
  const markdown = MARKDOWN_EXTENSIONS.has(extname(file.path).toLowerCase());
  const { text, frontMatter } = markdown ? splitFrontMatter(raw) : { text: raw, frontMatter: {} };
  const titled = typeof frontMatter.title === 'string' ? frontMatter.title.trim() : '';
  const title = (titled || (markdown ? firstHeading(text) : undefined) || name).slice(
    0,
    MAX_TITLE_CHARS,
  );
  const hasFrontMatter = Object.keys(frontMatter).length > 0;
  return {
    title,
    text,
    sourceId: file.id,
    metadata: { path: file.id, ...(hasFrontMatter ? { frontMatter } : {}) },
  };
}

export const isRefusal = (read: DocumentInput | Refusal): read is Refusal => 'reason' in read;

function splitFrontMatter(raw: string): { text: string; frontMatter: Record<string, unknown> } {
  try {
    // A fresh options object each time: gray-matter caches results by content otherwise.
    const parsed = matter(raw, {});
    return { text: parsed.content.replace(/^\s*\n/, ''), frontMatter: parsed.data };
  } catch {
    // Front matter that is not YAML is text like the rest.
    return { text: raw, frontMatter: {} };
  }
}

/** The first ATX heading outside fenced code, without its inline markup. */
export function firstHeading(markdown: string): string | undefined {
  let fence: string | undefined;
  for (const line of markdown.split(/\r?\n/)) {
    const marker = /^ {0,3}(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence) {
      if (marker?.startsWith(fence)) fence = undefined;
      continue;
    }
    if (marker) {
      fence = marker;
      continue;
    }
    const heading = /^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/.exec(line)?.[1];
    const plain = heading
      ?.replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/[*_`]/g, '')
      .trim();
    if (plain) return plain;
  }
  return undefined;
}
