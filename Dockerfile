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
# /healthz on the admin listener (listen.admin, plain HTTP on loopback inside the container).
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.UCGATE_ADMIN_PORT||9000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "dist/main.js"]
CMD ["start", "--config", "/app/config/ucgate.yaml"]
