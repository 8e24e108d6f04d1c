# Shardherd on the official Citus image: one container is one member (PostgreSQL + its agent).
# The agent runs as `postgres` and starts PostgreSQL itself (the image's own entrypoint, which
# would initdb and start a standalone server, is not used). Configuration: the YAML file named by
# SHARDHERD_CONFIG (mount it), with SHARDHERD_* (or PATRONI_*) variables overriding single fields.
#
#   docker build -t shardherd .
#   docker run --init -v ./member.yml:/etc/shardherd/shardherd.yml:ro -e SHARDHERD_NAME=coord1 ... shardherd
#
# docker-compose.yml beside this file runs a whole cluster; deploy/README.md walks through it.

ARG CITUS_IMAGE=citusdata/citus:13.2-pg16
ARG NODE_IMAGE=node:20-bookworm-slim

# Build: compile the TypeScript and pack the package as `npm pack` does for the registry, then
# install that tarball with its production dependencies only.
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json README.md ./
COPY bin ./bin
COPY sql ./sql
COPY src ./src
RUN npm pack --silent \
    && npm install -g --no-audit --no-fund --prefix /opt/shardherd ./shardherd-*.tgz

# Run: the Citus image (Citus 13.2, the release whose behaviour the Citus layer follows, on PostgreSQL 16)
# plus Node 20's binary and the package.
FROM ${CITUS_IMAGE}
COPY --from=build /usr/local/bin/node /usr/local/bin/node
COPY --from=build /opt/shardherd /opt/shardherd
# Node's binary needs libstdc++, which the image has through PostgreSQL's LLVM (JIT); fetched if not.
RUN (ldconfig -p | grep -q 'libstdc++\.so\.6' \
        || (apt-get update && apt-get install -y --no-install-recommends libstdc++6 && rm -rf /var/lib/apt/lists/*)) \
    && ln -s /opt/shardherd/bin/shardherd /usr/local/bin/shardherd \
    && mkdir -p /etc/shardherd /var/lib/postgresql/shardherd \
    && chown postgres:postgres /var/lib/postgresql/shardherd \
    && node --version && shardherd --help > /dev/null

# postgresql.data_dir belongs below the volume, e.g. /var/lib/postgresql/shardherd/data.
ENV SHARDHERD_CONFIG=/etc/shardherd/shardherd.yml \
    SHARDHERD_HEALTHCHECK_PORT=8008
VOLUME /var/lib/postgresql/shardherd
EXPOSE 5432 8008
USER postgres
WORKDIR /var/lib/postgresql

# Healthy while PostgreSQL runs under the agent (GET /health answers 200), primary or replica.
# bash's /dev/tcp needs no curl in the image; SHARDHERD_HEALTHCHECK_PORT must match restapi.listen.
HEALTHCHECK --interval=10s --timeout=5s --start-period=120s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${SHARDHERD_HEALTHCHECK_PORT} && printf 'GET /health HTTP/1.0\\r\\n\\r\\n' >&3 && read -r status <&3 && [[ $status == *' 200 '* ]]"]

# SIGTERM stops PostgreSQL (fast) and releases the leader key before the agent exits.
STOPSIGNAL SIGTERM
ENTRYPOINT ["shardherd"]
CMD ["agent"]
