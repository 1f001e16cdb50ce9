# --- builder: install everything, compile, then drop the dev dependencies -----------------------
FROM node:24-bookworm-slim AS builder
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# --- runtime: compiled output and production dependencies only, as the unprivileged node user --
FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production \
    PORT=4000
WORKDIR /app
# dist/config.js reads ../package.json (the version) and dist/app.js reads ../personas.
COPY --from=builder --chown=node:node /app/package.json ./package.json
COPY --from=builder --chown=node:node /app/node_modules ./node_modules
COPY --from=builder --chown=node:node /app/dist ./dist
COPY --chown=node:node personas ./personas
USER node
EXPOSE 4000
# The slim image has no curl: ask Node itself. /health answers 200 while the process serves.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 4000) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node is PID 1 and receives SIGTERM directly: it drains and exits 0 (no npm wrapper in between).
CMD ["node", "dist/main.js"]
