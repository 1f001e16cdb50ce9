import {
  type ChunkingOptions,
  chunkMarkdown,
  loadTokenizer,
  type Tokenizer,
} from '../../src/services/rag/chunking.js';

/**
 * The rag scenario's synthetic markdown corpus, the same on every run and in every process for
 * the same seed, document by document (each has a generator of its own, so any process can make
 * document 4 000 without making the first 3 999): a title, sections under `##` headings,
 * paragraphs of sentences, now and then a fenced code block. Words follow a Zipf law over common
 * English words followed by made-up ones, and each document leans on a topic of its own, so BM25
 * sees long posting lists for frequent words and short ones for rare, and documents differ.
 */

/** mulberry32: small, fast and good enough to draw words. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = state;
    mixed = Math.imul(mixed ^ (mixed >>> 15), mixed | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const COMMON = `the of and to in is that it for as with was on be by this are from or at an
have not which but they their can one all has more its will been also when there were some
would other into than these may such data server time each use only new request after where
first most over used between any through system should user both value state many then query
model cache index search event stream error client message version file node memory network
build config test change list page field type result token limit thread process queue store
write read key table record update delete schema service library release support option
default policy window budget chunk vector score rank answer source document section header`
  .split(/\s+/)
  .filter((word) => word !== '');

const ONSETS = ['b', 'c', 'd', 'f', 'g', 'h', 'k', 'l', 'm', 'n', 'p', 'r', 's', 't', 'v', 'z'];
const ONSETS_RARE = ['br', 'ch', 'dr', 'gl', 'pl', 'qu', 'sh', 'st', 'th', 'tr', 'w', 'y'];
const VOWELS = ['a', 'e', 'i', 'o', 'u', 'ai', 'ea', 'ou'];
const CODAS = ['', '', '', 'n', 'r', 's', 'l', 'x', 'nd', 'st'];

const VOCABULARY_SIZE = 40_000;
const ZIPF_EXPONENT = 1.05;
const SECTIONS_PER_DOCUMENT = 10;
const TOPIC_WORDS = 40;
/** The share of a document's words drawn from its topic rather than the whole vocabulary. */
const TOPIC_SHARE = 0.12;
/** Queries draw from generators of their own, apart from every document's. */
const QUERY_STREAM = 0x51_7cc1;

export interface CorpusDocument {
  title: string;
  text: string;
}

export class Corpus {
  private readonly vocabulary: string[];
  /** Cumulative Zipf weights over `vocabulary`, for drawing a word by rank. */
  private readonly cumulative: Float64Array;

  constructor(private readonly seed: number) {
    this.vocabulary = buildVocabulary(seededRandom(seed));
    this.cumulative = new Float64Array(this.vocabulary.length);
    let sum = 0;
    for (let rank = 0; rank < this.vocabulary.length; rank++) {
      sum += 1 / (rank + 1) ** ZIPF_EXPONENT;
      this.cumulative[rank] = sum;
    }
  }

  /** Document `index`: `# title`, then its sections. */
  document(index: number): CorpusDocument {
    const draw = this.drawer(index);
    const topic = Array.from({ length: TOPIC_WORDS }, () => draw.rareWord());
    const title = `${capitalise(draw.words(topic, 3))} ${index}`;
    const parts = [`# ${title}`];
    for (let section = 0; section < SECTIONS_PER_DOCUMENT; section++) {
      parts.push(`## ${capitalise(draw.words(topic, 2 + draw.below(3)))}`);
      const paragraphs = 3 + draw.below(3);
      for (let paragraph = 0; paragraph < paragraphs; paragraph++) {
        parts.push(draw.paragraph(topic));
      }
      if (draw.chance(0.2)) parts.push(draw.codeBlock(topic));
    }
    return { title, text: `${parts.join('\n\n')}\n` };
  }

  /** Query `index`, the way a user types one: three to six words the corpus holds. */
  query(index: number): string {
    const draw = this.drawer(index ^ QUERY_STREAM, QUERY_STREAM);
    const topic = Array.from({ length: TOPIC_WORDS }, () => draw.rareWord());
    return draw.words(topic, 3 + draw.below(4));
  }

  private drawer(index: number, stream = 0) {
    const random = seededRandom(Math.imul(this.seed ^ stream, 0x9e37_79b1) + index);
    const { vocabulary, cumulative } = this;
    const below = (limit: number) => Math.floor(random() * limit);
    const rank = (target: number) => {
      let low = 0;
      let high = cumulative.length - 1;
      while (low < high) {
        const middle = (low + high) >> 1;
        if (cumulative[middle]! < target) low = middle + 1;
        else high = middle;
      }
      return low;
    };
    const word = (topic: readonly string[]) =>
      random() < TOPIC_SHARE
        ? topic[below(topic.length)]!
        : vocabulary[rank(random() * cumulative[cumulative.length - 1]!)]!;
    const words = (topic: readonly string[], count: number) =>
      Array.from({ length: count }, () => word(topic)).join(' ');
    return {
      below,
      words,
      chance: (probability: number) => random() < probability,
      /** From the long tail (past the common words): what topics are made of. */
      rareWord: () => vocabulary[COMMON.length + 200 + below(vocabulary.length / 4)]!,
      paragraph: (topic: readonly string[]) =>
        Array.from(
          { length: 4 + below(4) },
          () => `${capitalise(words(topic, 7 + below(14)))}.`,
        ).join(' '),
      codeBlock: (topic: readonly string[]) => {
        const lines = Array.from(
          { length: 3 + below(6) },
          () => `  ${words(topic, 2).replace(' ', '_')}(${word(topic)}, ${below(1000)});`,
        );
        return ['```ts', `function ${words(topic, 1)}() {`, ...lines, '}', '```'].join('\n');
      },
    };
  }
}

function buildVocabulary(random: () => number): string[] {
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)]!;
  const seen = new Set(COMMON);
  const words = [...COMMON];
  while (words.length < VOCABULARY_SIZE) {
    const syllables = 1 + Math.floor(random() * 3) + (random() < 0.3 ? 1 : 0);
    let word = '';
    for (let index = 0; index < syllables; index++) {
      word += (random() < 0.2 ? pick(ONSETS_RARE) : pick(ONSETS)) + pick(VOWELS);
    }
    word += pick(CODAS);
    if (!seen.has(word)) {
      seen.add(word);
      words.push(word);
    }
  }
  return words;
}

const capitalise = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

/**
 * How chunks are counted: `o200k` is the product's tokenizer (what ingestDocument cuts with);
 * `charsPerToken` cuts the same way with the token count estimated from the length, calibrated on
 * the o200k chunks of the same corpus. The estimate is for building a large index in process
 * fast (the tokenizer is most of the chunking time): chunks come out about as long.
 */
export type ChunkCounting = 'o200k' | { charsPerToken: number };

export async function chunkCounter(counting: ChunkCounting): Promise<Tokenizer> {
  if (counting === 'o200k') return loadTokenizer();
  const { charsPerToken } = counting;
  return { count: (text) => Math.ceil(text.length / charsPerToken) };
}

export interface CorpusSpan {
  seed: number;
  firstDocument: number;
  /** Documents are taken whole until their chunks reach this many. */
  chunks: number;
  counting: ChunkCounting;
  chunking: ChunkingOptions;
}

/** The documents of a span, each with its chunk texts, in order. */
export async function* spanDocuments(
  span: CorpusSpan,
): AsyncGenerator<CorpusDocument & { index: number; chunks: string[] }> {
  const corpus = new Corpus(span.seed);
  const tokens = await chunkCounter(span.counting);
  let chunkCount = 0;
  for (let index = span.firstDocument; chunkCount < span.chunks; index++) {
    const document = corpus.document(index);
    const chunks = chunkMarkdown(document.text, span.chunking, tokens);
    chunkCount += chunks.length;
    yield { ...document, index, chunks };
  }
}
