import { createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { serve } from '../harness/rpc.js';
import { probeMethods } from '../harness/target-probe.js';

/**
 * The server under test: the product's own composition root, configured from the environment
 * the runner sets (as `src/main.ts` would be), plus the probe methods over IPC, so nothing is
 * added to the product's HTTP surface.
 */
const app = await createApp(loadConfig(process.env));
const port = await app.listen();

const methods = {
  ...probeMethods({ counters: () => ({ openSubscriptions: app.services.streams.openCount }) }),
  stop: () => app.close(),
};

export type ParleyMethods = typeof methods;

serve(methods, { port });
