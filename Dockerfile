# Postkasse gateway. Multi-stage: native modules and the bundle are built in
# the first stage; the runtime image holds production dependencies only and
# runs as non-root. It runs the same bundle that `npm start` builds and runs
# (dist/main.js: src/ bundled by esbuild, npm packages external; what is imported
# only on demand, such as the S3 store, in dist/chunks/).

# Node 22 LTS (Node 20 is past its end of life; the code also runs on 24, and on 20 where CI machines still have it)
FROM node:22-bookworm-slim AS build
WORKDIR /app
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY queues ./queues
COPY config ./config
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund

FROM node:22-bookworm-slim AS runtime
# MedCom's published FHIR packages are not part of the image: mount them at
# MEDCOM_PACKAGES_DIR (read-only). NODE_ENV=production refuses to start on anything
# of development (docs/operations.md, "Production"): it needs the region's own
# PARTIES_FILE, AGREEMENTS_FILE, PRICE_INDEX_FILE and GP_DIRECTORY_FILE; TLS_* and
# RECEIPT_* certificates; STORAGE_KEY_FILE and AUDIT_KEY_FILE outside DATA_DIR;
# TSA_URLS with TSA_CA_FILE; and OIDC_ISSUER / OIDC_CLIENT_ID / OIDC_CLIENT_SECRET /
# STAFF_BASE_URL (staff log in on STAFF_PORT through the region's identity provider).
ENV NODE_ENV=production \
    DATA_DIR=/var/lib/postkasse \
    MEDCOM_PACKAGES_DIR=/opt/medcom \
    PORT=8443 \
    STAFF_PORT=8444 \
    HEALTH_PORT=8080
WORKDIR /app
# The user has a fixed uid and gid, 10001, so that files mounted into the container (the keys)
# can be given to it: chown 10001:10001 (docs/operations.md). DATA_DIR is that user's alone (0700):
# a named volume takes this mode at its first mount; the gateway also tightens it (and the
# database files to 0600) at every start.
RUN groupadd --gid 10001 postkasse && useradd --uid 10001 --gid postkasse --no-create-home --home-dir /app --shell /usr/sbin/nologin postkasse \
 && mkdir -p /var/lib/postkasse && chown postkasse:postkasse /var/lib/postkasse && chmod 0700 /var/lib/postkasse
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# the staff pages' stylesheet and script (served by the gateway itself: no CDN)
COPY --from=build /app/src/web/static ./src/web/static
COPY package.json package-lock.json ./
COPY config ./config
USER postkasse
VOLUME ["/var/lib/postkasse"]
# HEALTH_PORT listens on 127.0.0.1 (HEALTH_HOST) unless told otherwise: the HEALTHCHECK below runs inside the
# container and needs nothing; to publish or scrape the port from outside set HEALTH_HOST=0.0.0.0 (docs/operations.md).
EXPOSE 8443 8444 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s \
  CMD node -e "require('http').get('http://127.0.0.1:'+process.env.HEALTH_PORT+'/healthz',r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1))"
STOPSIGNAL SIGTERM
# node directly (not npm) so that SIGTERM reaches the gateway for a graceful stop.
# Operator CLI in the container: docker compose exec gateway node dist/cli/main.js …
CMD ["node", "dist/main.js"]
