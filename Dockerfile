# One image for the API and the workers (the command picks the role).
# pg_dump/pg_restore of the newest major version are included: they read older servers.
FROM node:20-bookworm-slim AS build
# libdeflate-dev: the gzip addon (packages/libdeflate) builds against it; without it gzip
# silently falls back to the slower Node zlib.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ libdeflate-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
COPY apps/api/package.json apps/api/
COPY apps/worker/package.json apps/worker/
COPY apps/cli/package.json apps/cli/
COPY packages/ packages/
RUN npm ci --omit=dev --ignore-scripts=false
COPY . .

FROM node:20-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-client ca-certificates curl libdeflate0 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app /app
ENV NODE_ENV=production
# WORKER_ENV (apps/worker/src/node-flags.ts): keeps large buffers on mmap so a worker's RSS
# stays bounded; harmless for the API.
ENV MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=1048576
USER node
EXPOSE 8080
CMD ["npx", "tsx", "apps/api/src/main.ts"]
