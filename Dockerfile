# Postkasse gateway. Multi-stage: native modules are built in the first stage;
# the runtime image holds production dependencies only and runs as non-root.
# The gateway runs its TypeScript through tsx (a production dependency), the
# same command as `npm start` in the README.

FROM node:20-bookworm-slim AS deps
WORKDIR /app
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    DATA_DIR=/var/lib/postkasse \
    PORT=8443 \
    HEALTH_PORT=8080
WORKDIR /app
RUN groupadd --system postkasse && useradd --system --gid postkasse --home /app postkasse \
 && mkdir -p /var/lib/postkasse && chown postkasse:postkasse /var/lib/postkasse
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json tsconfig.json ./
COPY src ./src
COPY config ./config
USER postkasse
VOLUME ["/var/lib/postkasse"]
EXPOSE 8443 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s \
  CMD node -e "require('http').get('http://127.0.0.1:'+process.env.HEALTH_PORT+'/healthz',r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1))"
STOPSIGNAL SIGTERM
CMD ["node", "--import", "tsx", "src/main.ts"]
