# syntax=docker/dockerfile:1
#
# kith-server container image.
#
#   docker build -t kith-server .
#   docker run -p 8080:8080 -v kith-data:/data kith-server
#
# Single instance: SQLite and the generated token secret live in the /data volume.
# Several instances: set DATABASE_URL (PostgreSQL), REDIS_URL and the same KITH_JWT_SECRET on
# every instance; see deploy/docker-compose.yml and docs/deploy.md.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---------------------------------------------------------------------------------------------
# build: install the whole workspace (dev dependencies included), compile, then prune to a
# production-only copy of the kith-server binary package (core and built-in modules) in /out.
# ---------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS build

# better-sqlite3 compiles from source when no prebuilt binary fits.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ ca-certificates \
 && rm -rf /var/lib/apt/lists/*

# pnpm 10, as README and .ci/run install it; pnpm then switches itself to the exact version
# pinned in package.json's "packageManager".
RUN npm install -g pnpm@10 && pnpm --version

WORKDIR /src

# Dependencies first, keyed only on the lockfile, so that source edits reuse this layer.
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml .npmrc ./
RUN pnpm fetch

COPY . .
RUN pnpm install --frozen-lockfile --offline

# Every package; then the example web app, when the workspace has one with a build script.
RUN pnpm build \
 && pnpm --filter './examples/*' --if-present run build

# A self-contained production copy of the kith-server binary: its bin/, dist/, package.json and a
# node_modules with production dependencies only (@kith/server, @kith/sync-google and the other
# workspace dependencies are injected as real copies).
# pnpm 10's deploy needs inject-workspace-packages; it is set for this command only, so the
# lockfile (and every developer's install) is unaffected.
RUN pnpm --config.inject-workspace-packages=true --filter kith-server deploy --prod /out \
 && find /out/node_modules/.pnpm -type d -path '*/better-sqlite3/build/Release' \
      -exec sh -c 'cd "$1" && rm -rf obj obj.target .deps ./*.a test_extension.node' _ {} \; \
 && find /out/node_modules/.pnpm -type d -path '*/node_modules/better-sqlite3/deps' -prune -exec rm -rf {} + \
 && rm -rf /out/src /out/test /out/tsconfig.json

# The built web app, if any (an empty folder otherwise; the server then serves the API only).
RUN mkdir -p /out-web \
 && if [ -f examples/family-calendar/dist/index.html ]; then cp -a examples/family-calendar/dist/. /out-web/; fi

# ---------------------------------------------------------------------------------------------
# runtime: Node and the pruned server only; no compiler, no pnpm, no source.
# ---------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime

# MALLOC_MMAP_THRESHOLD_: glibc serves every allocation of 128 KB or more (a room's stored bytes as
# it is opened) with its own mapping and returns it when freed, instead of raising the threshold and
# keeping the freed memory in its heap (docs/deploy.md, "Memory").
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    KITH_DATA_DIR=/data \
    MALLOC_MMAP_THRESHOLD_=131072

WORKDIR /app

# The monorepo layout is kept (/app/packages/kith-server, /app/examples/family-calendar/dist) so
# that the binary finds the bundled web app exactly as it does in a checkout. Files stay owned by
# root: the server cannot modify its own code.
COPY --from=build /out /app/packages/kith-server
COPY --from=build /out-web /app/examples/family-calendar/dist

# /data must exist and belong to the runtime user before VOLUME, so that a new named volume
# inherits that ownership.
RUN mkdir -p /data && chown 1000:1000 /data

# The "node" user of the official image (uid 1000). Numeric, so that Kubernetes'
# runAsNonRoot can verify it.
USER 1000:1000

VOLUME ["/data"]
EXPOSE 8080

# No curl in the slim image: Node's own fetch. Liveness only (/healthz); readiness, which also
# checks storage, is for load balancers (/readyz).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# kith-server drains on SIGTERM: stops listening, stores everything pending, closes sockets
# with 1001 and exits 0. Give it time: `docker stop -t 30`, or stop_grace_period in compose.
STOPSIGNAL SIGTERM

# node as PID 1 directly (exec form, no shell) so that SIGTERM reaches the server.
CMD ["node", "/app/packages/kith-server/bin/kith-server.js"]
