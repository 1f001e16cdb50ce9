import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig, type ProxyOptions, type UserConfig } from 'vite';

/**
 * The web chat, served by Vite with /graphql (HTTP and WebSocket) proxied to a Parley: the page
 * talks to its own origin, so it needs no CORS and no Parley URL of its own.
 */
export function webChatConfig(parleyUrl: string): UserConfig {
  const { protocol, host } = new URL(parleyUrl);
  const secure = protocol === 'https:' || protocol === 'wss:';
  const proxy: Record<string, ProxyOptions> = {
    '/graphql': { target: `${secure ? 'https' : 'http'}://${host}`, ws: true, changeOrigin: true },
  };
  return {
    root: fileURLToPath(new URL('.', import.meta.url)),
    plugins: [react()],
    server: { proxy },
    preview: { proxy },
  };
}

// `npm run example:web`: PARLEY_URL is where Parley listens (http or ws, any path is ignored).
export default defineConfig(webChatConfig(process.env.PARLEY_URL ?? 'http://localhost:4000'));
