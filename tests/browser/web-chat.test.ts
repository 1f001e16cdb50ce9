import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { build, type PreviewServer, preview } from 'vite';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { webChatConfig } from '../../examples/web-chat/vite.config.js';
import { FakeOpenAI } from '../support/fake-openai.js';
import { startServer, type TestServer } from '../support/server.js';

/** Debian's chromium, started the way this machine allows (no network beyond loopback). */
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const CHUNKS = ['Streams ', 'are ', 'data: ', 'each ', 'delta ', 'is ', 'logged ', 'first.'];
const FULL_TEXT = CHUNKS.join('');
const WAIT = { timeout: 20_000 };

describe('the web chat example in a real browser', () => {
  const upstream = new FakeOpenAI();
  let server: TestServer;
  let site: PreviewServer;
  let siteUrl: string;
  let outDir: string;
  let browser: Browser;

  beforeAll(async () => {
    await upstream.start();
    server = await startServer({
      env: {
        OPENAI_BASE_URL: upstream.baseURL,
        OPENAI_API_KEY: 'sk-test-upstream',
        LLM_MODEL: 'fake-model',
      },
    });
    // The production bundle, served by vite preview with its /graphql proxy to this Parley.
    const config = webChatConfig(`http://127.0.0.1:${server.port}`);
    outDir = await mkdtemp(join(tmpdir(), 'parley-web-chat-'));
    await build({
      ...config,
      configFile: false,
      logLevel: 'warn',
      build: { outDir, emptyOutDir: true },
    });
    site = await preview({
      ...config,
      configFile: false,
      logLevel: 'warn',
      build: { outDir },
      preview: { ...config.preview, host: '127.0.0.1', port: 0 },
    });
    siteUrl = `http://127.0.0.1:${(site.httpServer.address() as AddressInfo).port}/`;
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: CHROMIUM_FLAGS,
    });
  }, 120_000);

  afterEach(() => {
    upstream.release();
  });

  afterAll(async () => {
    await browser?.close();
    await site?.close();
    await server?.close();
    await upstream.close();
    if (outDir) await rm(outDir, { recursive: true, force: true });
  });

  /** A fresh browser profile (empty localStorage) on the chat page. */
  async function openChat(): Promise<Page> {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(siteUrl);
    return page;
  }

  async function ask(page: Page, question: string): Promise<void> {
    await page.getByLabel('Your question').fill(question);
    await page.getByRole('button', { name: 'Send' }).click();
  }

  const answerText = (page: Page) => page.locator('.answer .text').last().textContent();
  const announced = (page: Page) => page.getByRole('status').textContent();

  it('types a question and sees the answer stream into the page', async () => {
    upstream.enqueue({ chunks: CHUNKS, holdAfter: 3, delayMs: 10 });
    const page = await openChat();
    await ask(page, 'What are streams?');
    await page.getByText('What are streams?').waitFor(WAIT);
    // Part of the answer is on the page while the upstream still holds the rest.
    await expect.poll(() => answerText(page), WAIT).toBe(CHUNKS.slice(0, 3).join(''));
    expect(await announced(page)).toBe('Answering…');
    // Screen readers hear the answer as it streams: the conversation is a polite live log.
    const log = page.getByRole('log', { name: 'Conversation' });
    expect(await log.getAttribute('aria-live')).toBe('polite');
    expect(await log.textContent()).toContain(CHUNKS.slice(0, 3).join(''));
    upstream.release();
    await expect.poll(() => announced(page), WAIT).toBe('Answer complete');
    expect(await answerText(page)).toBe(FULL_TEXT);
    await page.context().close();
  }, 60_000);

  it('a reload mid-stream resumes from the last cursor and shows the answer once', async () => {
    upstream.enqueue({ chunks: CHUNKS, holdAfter: 4, delayMs: 10 });
    const page = await openChat();
    const subscribed: { after: string | null }[] = [];
    page.on('websocket', (socket) => {
      socket.on('framesent', ({ payload }) => {
        const message = JSON.parse(String(payload)) as {
          type: string;
          payload?: { variables?: { after?: string | null } };
        };
        if (message.type === 'subscribe') {
          subscribed.push({ after: message.payload?.variables?.after ?? null });
        }
      });
    });
    await ask(page, 'Resume me');
    const partial = CHUNKS.slice(0, 4).join('');
    await expect.poll(() => answerText(page), WAIT).toBe(partial);
    const before = subscribed.length;

    await page.reload();
    // The saved text is back before any new event, and the page subscribes after its cursor.
    await expect.poll(() => answerText(page), WAIT).toBe(partial);
    await expect.poll(() => subscribed.slice(before).some(({ after }) => after !== null), WAIT);
    upstream.release();
    await expect.poll(() => announced(page), WAIT).toBe('Answer complete');
    expect(await answerText(page)).toBe(FULL_TEXT);
    expect(await page.locator('.answer').count()).toBe(1);
    expect(subscribed.slice(0, before).every(({ after }) => after === null)).toBe(true);
    await page.context().close();
  }, 60_000);

  it('the stop button cancels the answer and keeps what was streamed', async () => {
    upstream.enqueue({ chunks: CHUNKS, holdAfter: 2 });
    const page = await openChat();
    await ask(page, 'Stop me');
    const partial = CHUNKS.slice(0, 2).join('');
    await expect.poll(() => answerText(page), WAIT).toBe(partial);
    await page.getByRole('button', { name: 'Stop answer' }).click();
    await expect.poll(() => announced(page), WAIT).toBe('Answer cancelled');
    expect(await answerText(page)).toBe(partial);
    expect(await page.getByRole('button', { name: 'Stop answer' }).isDisabled()).toBe(true);
    await page.context().close();
  }, 60_000);
});
