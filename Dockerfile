# syntax=docker/dockerfile:1
# login-etl as a container: `docker build -t login-etl .`, then
#   docker run --env-file login-etl.env login-etl            (the service: `run`)
#   docker run --env-file login-etl.env login-etl drain      (any other command)
# The image holds compiled JavaScript and the production dependencies only; the
# file tree is made by scripts/build-image-tree.sh, which test/ship/imageTree.test.ts
# also runs (no container engine is needed to test it).
#
# Base: the official Node.js 24 image on Debian 13 slim, pinned by exact tag.
# To pin by digest too: docker buildx imagetools inspect node:24.20.0-trixie-slim
# and append @sha256:<index digest>.
ARG NODE_IMAGE=node:24.20.0-trixie-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# All dependencies, for TypeScript; install scripts skipped: the build needs
# neither the Node runtime package nor the embedded PostgreSQL binaries.
RUN --mount=type=cache,target=/root/.npm npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
COPY migrations ./migrations
COPY scripts ./scripts
RUN --mount=type=cache,target=/root/.npm sh scripts/build-image-tree.sh /app

FROM ${NODE_IMAGE}
# Owned by root and read-only; the service runs as the unprivileged `node` user.
COPY --from=build /app /app
WORKDIR /app
USER node
# /livez, /readyz and /metrics (LOGIN_ETL_HTTP_PORT).
EXPOSE 9464
# Node itself (slim images have no curl); the process being alive is all /livez says.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.LOGIN_ETL_HTTP_PORT || 9464) + '/livez', { signal: AbortSignal.timeout(2000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Node is PID 1 (no npm, no shell): src/main.ts traps SIGTERM and shuts down
# gracefully within LOGIN_ETL_SHUTDOWN_TIMEOUT_MS (25 s by default, under
# Docker's and Kubernetes' default stop grace periods of 10 s / 30 s: raise
# `stop_grace_period` or lower the timeout to match). bin/login-etl.js may
# re-exec itself with heap flags (process.execve: the same PID).
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "bin/login-etl.js"]
CMD ["run"]
