# syntax=docker/dockerfile:1
# console-gateway: build with dev dependencies, run with production dependencies only, as a non-root user.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json codegen.yml ./
COPY schema ./schema
COPY src ./src
RUN npm run build

FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production \
    CONSOLE_GATEWAY_HOST=0.0.0.0 \
    CONSOLE_GATEWAY_PORT=4000
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY schema ./schema
USER node
EXPOSE 4000
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.CONSOLE_GATEWAY_PORT||4000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Mount a config (and secrets through CONSOLE_GATEWAY_PROVIDER_<NAME>_PASSWORD) at run time.
ENTRYPOINT ["node", "dist/main.js"]
CMD ["--config", "/etc/console-gateway/config.yaml"]
