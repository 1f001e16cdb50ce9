import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startConversation } from '../support/client.js';
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

describe('GraphiQL in a real browser', () => {
  let server: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    server = await startServer({ env: { LOCAL_LLM_TOKEN_DELAY_MS: '5' } });
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: CHROMIUM_FLAGS,
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('loads without any CDN, from a small page and separate assets, and streams a subscription into the result pane', async () => {
    const { assistantMessageId } = await startConversation(server, 'Shown in GraphiQL?');
    const page = await browser.newPage();
    const offsite: string[] = [];
    page.on('request', (request) => {
      const url = new URL(request.url());
      if (!['127.0.0.1', 'localhost'].includes(url.hostname) && url.protocol.startsWith('http')) {
        offsite.push(request.url());
      }
    });
    const assets: { url: string; status: number; encoding: string | undefined }[] = [];
    page.on('response', (response) => {
      if (new URL(response.url()).pathname.startsWith('/graphiql/assets/')) {
        assets.push({
          url: response.url(),
          status: response.status(),
          encoding: response.headers()['content-encoding'],
        });
      }
    });
    const workers: string[] = [];
    page.on('worker', (worker) => workers.push(worker.url()));
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    const subscription = `subscription { messageStream(messageId: "${assistantMessageId}") { __typename ... on MessageEnd { message { status content } } } }`;
    const document = await page.goto(`${server.httpUrl}?query=${encodeURIComponent(subscription)}`);
    await page.locator('.graphiql-execute-button').click({ timeout: 30_000 });
    const response = page.locator('.graphiql-response');
    await expect.poll(async () => response.innerText(), { timeout: 30_000 }).toContain('COMPLETED');
    const shown = await response.innerText();
    expect(shown).toContain('MessageEnd');
    expect(offsite).toEqual([]);
    // The page is small; its app, CSS, favicon and Monaco workers are separate compressed files.
    expect((await document!.body()).length).toBeLessThan(50_000);
    // Monaco starts its workers lazily: one may still be on its way when the stream has ended
    // (5 of 6 assets, once in CI). Waited for, not assumed.
    await expect.poll(() => assets.length, { timeout: 30_000 }).toBeGreaterThanOrEqual(6);
    expect(assets.every((asset) => asset.status === 200 && asset.encoding === 'br')).toBe(true);
    // Monaco may start a worker more than once: three distinct scripts, ours.
    await expect.poll(() => new Set(workers).size, { timeout: 30_000 }).toBe(3);
    expect(workers.every((url) => new URL(url).pathname.startsWith('/graphiql/assets/'))).toBe(
      true,
    );
    expect(pageErrors).toEqual([]);
    await page.close();
  }, 90_000);
});
