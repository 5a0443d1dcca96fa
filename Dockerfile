# syntax=docker/dockerfile:1
# Wardwatch agent image: the monitor, its simulators and CLI, run as a non-root user.
#
#   docker build -t wardwatch .
#   docker run -d --name wardwatch -p 8883:8883 -p 8080:8080 \
#     -v /etc/wardwatch/site.yaml:/etc/wardwatch/site.yaml:ro -v wardwatch-data:/var/lib/wardwatch wardwatch
#
# docker-compose.yml runs it with a simulated ward, InfluxDB and Grafana; docs/operations.md
# ("Docker") says how to use it on a site. Validated without a Docker engine by
# test/unit/deployment-files.test.ts (final stage's USER and HEALTHCHECK, COPY sources in
# the build context, every flag of CMD known to `wardwatch agent`).

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: install the production dependencies, compiling the native ones ----
FROM ${NODE_IMAGE} AS build
# better-sqlite3 compiles from source (node-gyp): a C++ toolchain and Python, here only.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/wardwatch
COPY package.json package-lock.json ./
# Build better-sqlite3 from its source in the npm package instead of downloading a
# prebuilt binary from elsewhere: the image then holds only what the npm registry served
# (and the lockfile's integrity hashes checked).
ENV npm_config_build_from_source=better-sqlite3
# Production dependencies only: the agent runs its TypeScript through tsx and bundles the
# dashboard with esbuild at start, both dependencies; vite, vitest and typescript are for
# development. Never --omit=optional: esbuild and tsx need their native optional package
# (@esbuild/linux-arm64 on a Pi, linux-x64 on a VM).
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force
COPY tsconfig.json ./
COPY bin ./bin
COPY agent ./agent
COPY simulators ./simulators
COPY dashboard ./dashboard
COPY config ./config
COPY deploy/docker ./deploy/docker
RUN chmod 0755 bin/wardwatch.js deploy/docker/healthcheck.mjs

# ---- runtime: Node, openssl, tini and the application; no compiler ----
FROM ${NODE_IMAGE} AS runtime
# openssl: the agent makes its self-signed certificate with it on the first start
# (agent/src/tls/self-signed.ts). tini: PID 1 that forwards SIGTERM to the agent (which
# then closes the broker and flushes the alert log) and reaps the openssl child.
RUN apt-get update \
 && apt-get install -y --no-install-recommends openssl tini \
 && rm -rf /var/lib/apt/lists/*
# A fixed UID/GID (not the image's `node`, 1000), so that a bind-mounted data directory
# can be given to it on the host: chown 10001:10001 /srv/wardwatch.
RUN groupadd --system --gid 10001 wardwatch \
 && useradd --system --uid 10001 --gid wardwatch --home-dir /var/lib/wardwatch \
      --no-create-home --shell /usr/sbin/nologin wardwatch \
 && install -d -o wardwatch -g wardwatch -m 0750 /var/lib/wardwatch \
 && install -d -o root -g wardwatch -m 0750 /etc/wardwatch
# The application stays owned by root: the agent cannot change its own code.
COPY --from=build /opt/wardwatch /opt/wardwatch
RUN ln -s /opt/wardwatch/bin/wardwatch.js /usr/local/bin/wardwatch
ENV NODE_ENV=production
WORKDIR /opt/wardwatch

# Alerts, the audit log, users, the baseline and the self-signed certificate
# (docs/operations.md, "Backup and restore"): keep them on a volume.
VOLUME ["/var/lib/wardwatch"]
# MQTT, MQTT over TLS, the dashboard (HTTPS), /metrics and /healthz (not published by
# docker-compose.yml: Prometheus scrapes it on the compose network), and the range the
# examples give Modbus/TCP gateways (config modbus.gateways[].listenPort; publish the
# ones the site uses, e.g. -p 502:5020).
EXPOSE 1883 8883 8080 9464 5020-5039

USER 10001:10001
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "/opt/wardwatch/deploy/docker/healthcheck.mjs"]
ENTRYPOINT ["/usr/bin/tini", "--", "wardwatch"]
# In a container the listeners bind every interface of the container's own network
# namespace; what reaches them from outside is what `-p`/`ports:` publishes.
CMD ["agent", "--config", "/etc/wardwatch/site.yaml", "--data-dir", "/var/lib/wardwatch", \
     "--http-host", "0.0.0.0", "--metrics-host", "0.0.0.0"]
