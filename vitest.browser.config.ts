import { configDefaults, defineConfig } from 'vitest/config';
import base from './vitest.config.js';

// The default config with only the browser tests (they drive Chromium: /usr/bin/chromium or
// CHROMIUM_PATH). Spread, not mergeConfig: that would append to include and exclude.
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ['tests/browser/**/*.test.ts'],
    exclude: configDefaults.exclude,
  },
});
