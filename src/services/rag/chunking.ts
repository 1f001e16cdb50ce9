/**
 * Markdown-aware chunking, counted in tokens (o200k_base, the encoding usage.ts counts with).
 * A chunk never spans two sections: each starts with the heading trail it sits under ("# Guide",
 * "## Install"), so it carries its context into the index and the prompt. Fenced code blocks
 * are kept whole, even past the chunk size, unless one alone is longer than CODE_SPLIT_FACTOR
 * chunks; then it is cut at line boundaries and each part fenced again. Prose is cut between
 * paragraphs, then sentences, then words. Consecutive chunks of one section share `overlap`
 * tokens of prose (the end of the previous chunk starts the next).
 */

export interface ChunkingOptions {
  chunkTokens: number;
  overlapTokens: number;
}

export interface Tokenizer {
  count(text: string): number;
}

let tokenizer: Promise<Tokenizer> | undefined;

/** Loaded on first use, like usage.ts; special-token text ("<|endoftext|>") counts as text. */
export function loadTokenizer(): Promise<Tokenizer> {
  tokenizer ??= import('gpt-tokenizer').then(({ encode }) => ({
    count: (text: string) => encode(text, { disallowedSpecial: new Set() }).length,
  }));
  return tokenizer;
}

const CODE_SPLIT_FACTOR = 4;

interface Block {
  kind: 'prose' | 'code';
  text: string;
}

interface Section {
  trail: string[];
  blocks: Block[];
}

const FENCE = /^ {0,3}(`{3,}|~{3,})/;
const HEADING = /^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/;

/** Splits markdown into sections (by heading) of blocks (paragraphs, fenced code). */
export function parseSections(markdown: string): Section[] {
  const lines = markdown.split(/\r?\n/);
  const sections: Section[] = [{ trail: [], blocks: [] }];
  const trail: string[] = [];
  let paragraph: string[] = [];
  const current = () => sections[sections.length - 1]!;
  const endParagraph = () => {
    const text = paragraph.join('\n').trim();
    if (text !== '') current().blocks.push({ kind: 'prose', text });
    paragraph = [];
  };
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!;
    const fence = FENCE.exec(line);
    if (fence) {
      endParagraph();
      const marker = fence[1]!;
      const code = [line];
      for (index++; index < lines.length; index++) {
        const inner = lines[index]!;
        code.push(inner);
        if (
          inner.trim().startsWith(marker[0]!.repeat(marker.length)) &&
          inner.trim().replace(/[`~]/g, '') === ''
        )
          break;
      }
      current().blocks.push({ kind: 'code', text: code.join('\n') });
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      endParagraph();
      const level = heading[1]!.length;
      trail.splice(level - 1);
      while (trail.length < level - 1) trail.push('');
      trail.push(`${heading[1]} ${heading[2]}`);
      sections.push({ trail: trail.filter((entry) => entry !== ''), blocks: [] });
      continue;
    }
    if (line.trim() === '') endParagraph();
    else paragraph.push(line);
  }
  endParagraph();
  return sections.filter((section) => section.blocks.length > 0 || section.trail.length > 0);
}

/** The document's chunks, in order. Empty when the text holds nothing but white space. */
export function chunkMarkdown(
  markdown: string,
  options: ChunkingOptions,
  tokens: Tokenizer,
): string[] {
  const sections = parseSections(markdown);
  const chunks = sections.flatMap((section) => chunkSection(section, options, tokens));
  if (chunks.length === 0 && markdown.trim() !== '') {
    // Headings only: they are the content.
    return [sections.flatMap((section) => section.trail.slice(-1)).join('\n')];
  }
  return chunks;
}

function chunkSection(section: Section, options: ChunkingOptions, tokens: Tokenizer): string[] {
  if (section.blocks.length === 0) return [];
  const prefix = section.trail.join('\n');
  const prefixTokens = prefix === '' ? 0 : tokens.count(prefix) + 1;
  const budget = Math.max(options.chunkTokens - prefixTokens, Math.ceil(options.chunkTokens / 2));
  // Prose is cut short enough that the overlap still fits in front of the next piece.
  const proseBudget = Math.max(budget - options.overlapTokens, Math.ceil(budget / 2));
  const pieces = section.blocks.flatMap((block) => piecesOf(block, budget, proseBudget, tokens));
  const bodies: string[] = [];
  let current: Block[] = [];
  let used = 0;
  for (const piece of pieces) {
    const size = tokens.count(piece.text);
    if (current.length > 0 && used + size > budget) {
      bodies.push(current.map((block) => block.text).join('\n\n'));
      const last = current[current.length - 1]!;
      const overlap =
        last.kind === 'prose' && options.overlapTokens > 0
          ? tailOf(last.text, options.overlapTokens, tokens)
          : '';
      current =
        overlap === '' || tokens.count(overlap) + size > budget
          ? []
          : [{ kind: 'prose', text: overlap }];
      used = current.length > 0 ? tokens.count(overlap) : 0;
    }
    current.push(piece);
    used += size;
  }
  if (current.length > 0) bodies.push(current.map((block) => block.text).join('\n\n'));
  return bodies.map((body) => (prefix === '' ? body : `${prefix}\n\n${body}`));
}

/** A block as pieces no longer than `budget`, except code up to CODE_SPLIT_FACTOR chunks. */
function piecesOf(block: Block, budget: number, proseBudget: number, tokens: Tokenizer): Block[] {
  const size = tokens.count(block.text);
  if (size <= budget) return [block];
  if (block.kind === 'code') {
    return size <= budget * CODE_SPLIT_FACTOR ? [block] : splitCode(block.text, budget, tokens);
  }
  const sentences = block.text.split(/(?<=[.!?])\s+/);
  return packWords(sentences, proseBudget, tokens, ' ').map((text) => ({ kind: 'prose', text }));
}

/** Joins units (sentences, then words of a too-long sentence) into texts within `budget`. */
function packWords(units: string[], budget: number, tokens: Tokenizer, glue: string): string[] {
  const out: string[] = [];
  let current = '';
  for (const unit of units) {
    if (tokens.count(unit) > budget) {
      if (current !== '') out.push(current);
      current = '';
      const words = unit.split(/\s+/).filter((word) => word !== '');
      if (words.length <= 1) {
        out.push(...hardSplit(unit, budget, tokens));
        continue;
      }
      out.push(...packWords(words, budget, tokens, ' '));
      continue;
    }
    const joined = current === '' ? unit : `${current}${glue}${unit}`;
    if (tokens.count(joined) > budget && current !== '') {
      out.push(current);
      current = unit;
    } else {
      current = joined;
    }
  }
  if (current !== '') out.push(current);
  return out;
}

/** A "word" longer than a chunk (a long URL, base64): cut by characters. */
function hardSplit(text: string, budget: number, tokens: Tokenizer): string[] {
  const out: string[] = [];
  let rest = text;
  while (rest !== '') {
    let length = Math.min(rest.length, budget * 4);
    while (length > 1 && tokens.count(rest.slice(0, length)) > budget)
      length = Math.floor(length * 0.8);
    out.push(rest.slice(0, length));
    rest = rest.slice(length);
  }
  return out;
}

function splitCode(code: string, budget: number, tokens: Tokenizer): Block[] {
  const lines = code.split('\n');
  const open = lines[0]!;
  const marker = FENCE.exec(open)?.[1] ?? '```';
  const closed = lines.length > 1 && lines[lines.length - 1]!.trim().startsWith(marker);
  const body = lines.slice(1, closed ? -1 : undefined);
  const parts = packWords(body, budget - tokens.count(`${open}\n${marker}`) - 2, tokens, '\n');
  return parts.map((part) => ({ kind: 'code', text: `${open}\n${part}\n${marker}` }));
}

/** The last words of `text` that fit in `overlap` tokens. */
function tailOf(text: string, overlap: number, tokens: Tokenizer): string {
  const words = text.split(/\s+/);
  let tail = '';
  for (let index = words.length - 1; index >= 0; index--) {
    const next = tail === '' ? words[index]! : `${words[index]} ${tail}`;
    if (tokens.count(next) > overlap) break;
    tail = next;
  }
  return tail;
}
