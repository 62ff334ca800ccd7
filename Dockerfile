# One image for the API and the workers (the command picks the role).
# pg_dump/pg_restore of the newest major version are included: they read older servers.
FROM node:20-bookworm-slim AS build
# libdeflate-dev: the gzip addon (packages/libdeflate) builds against it; without it gzip
# silently falls back to the slower Node zlib.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ libdeflate-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# Every workspace (npm ci needs each one the lock names; packages/libdeflate's addon builds here).
COPY apps/ apps/
COPY packages/ packages/
# Dev dependencies too: the build (Vite, esbuild) needs them; pruned after it.
RUN npm ci --ignore-scripts=false
COPY . .
# The console (Vite) and dist/<api|worker|cli>/main.js (scripts/build.ts), then production
# dependencies only.
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
# postgresql (server binaries of Debian's major, 15): point-in-time restores recover a base
# backup in a private cluster of the source's major version on the worker.
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-client postgresql ca-certificates curl libdeflate0 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app /app
ENV NODE_ENV=production
# WORKER_ENV (apps/worker/src/node-flags.ts): keeps large buffers on mmap so a worker's RSS
# stays bounded; harmless for the API.
ENV MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=1048576
USER node
EXPOSE 8080
# The compiled API (npm run start:api:prod); a worker is
# `node --single-threaded-gc dist/worker/main.js` (npm run start:worker:prod, docker-compose.yml).
CMD ["node", "dist/api/main.js"]
