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
# Production dependencies only: the simulators' own (selfsigned, ...) are dev dependencies, and a
# --config start loads no simulator module. package.json's allowScripts lets bufferutil's install
# script run (it finds its prebuilt binary) and no other.
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
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.CONSOLE_GATEWAY_SERVER_PORT||process.env.CONSOLE_GATEWAY_PORT||4000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# The image listens on 0.0.0.0, so it needs the URL browsers use (console URLs are built from it): the
# gateway refuses to start without server.publicUrl. Set it in the config or in the environment, and
# any other key the same way (README "Operations"), secrets from mounted files with _FILE:
#   docker run -p 4000:4000 -v ./config.yaml:/etc/console-gateway/config.yaml:ro \
#     -e CONSOLE_GATEWAY_SERVER_PUBLIC_URL=https://consoles.example.com \
#     -e CONSOLE_GATEWAY_PROVIDER_TOWER_PASSWORD_FILE=/run/secrets/tower-password console-gateway
# Other commands replace CMD: `docker run --rm -i console-gateway hash-key` (key on stdin),
# `docker run --rm console-gateway --help`.
# --scavenger-max-new-space-capacity-mb=4: Node 24 reclaims console Buffers by full GCs without it (src/runtime-flags.ts).
ENTRYPOINT ["node", "--scavenger-max-new-space-capacity-mb=4", "dist/main.js"]
CMD ["--config", "/etc/console-gateway/config.yaml"]
