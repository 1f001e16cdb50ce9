import { createApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';

/** Process entry: read config, build the app, listen, and drain on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`parley: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  // Registered before start-up, so a SIGTERM during it still ends in an orderly exit.
  const starting = createApp(config);
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    starting
      .then((app) => app.close())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          process.stderr.write(`parley: shutdown after ${signal} failed: ${String(error)}\n`);
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  const app = await starting;
  if (!stopping) await app.listen();
}

main().catch((error: unknown) => {
  process.stderr.write(
    `parley: could not start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
