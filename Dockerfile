# syntax=docker/dockerfile:1
# Build stage: compile TypeScript with the full dev toolchain.
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm ci --no-audit --no-fund && npm prune --omit=dev

# Runtime stage: only the compiled gateway and its production dependencies.
FROM node:24-slim
ENV NODE_ENV=production
WORKDIR /app
# jemalloc instead of glibc's malloc: under the same keep-alive load it held 20-35 MB less (glibc keeps
# what TLS connections and V8's compilers freed in per-thread arenas), at no CPU cost measured
# (docs/performance.md). Linked under one path for every architecture; gateway_ready names the allocator.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libjemalloc2 \
 && rm -rf /var/lib/apt/lists/* \
 && ln -s "$(dpkg -L libjemalloc2 | grep '/libjemalloc\.so\.2$')" /usr/local/lib/libjemalloc.so.2
# Freed pages back to the system after 1 s instead of jemalloc's 10: 12-16 MB less at the peak of a
# keep-alive load, CPU unchanged (test/bench/results/jemalloc-decay.md).
ENV LD_PRELOAD=/usr/local/lib/libjemalloc.so.2 MALLOC_CONF=dirty_decay_ms:1000
RUN groupadd --system ucgate && useradd --system --gid ucgate --home-dir /app --shell /usr/sbin/nologin ucgate \
 && mkdir -p /app/certs /app/config && chown ucgate:ucgate /app/certs
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY config/ucgate.example.yaml ./config/
USER ucgate
# Keys, certificates, the local CA and the audit log live here: keep them across container restarts.
VOLUME ["/app/certs"]
EXPOSE 8443 9443 8080 9000
# `ucgate healthcheck` reads the same config as `start` (config/ucgate.yaml under /app, or $UCGATE_CONFIG)
# and asks the admin listener's /healthz as it really speaks: HTTPS verified against the gateway's own
# certificate from /app/certs (the default), or plain HTTP when listen.admin.tls is false. It gives up
# after 3 s (exit 1, one line in `docker inspect`), inside Docker's own 5 s. Needs listen.admin.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "dist/main.js", "healthcheck", "--timeout", "3000"]
ENTRYPOINT ["node", "dist/main.js"]
CMD ["start", "--config", "/app/config/ucgate.yaml"]
