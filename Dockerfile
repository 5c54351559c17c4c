# onair with ffmpeg on Debian. Build: docker build -t onair .
# Run:  docker run -d --name onair -p 10800:10800 -p 10300-10399:10300-10399/udp -v onair-data:/var/lib/onair onair
# The dashboard (web/) is built in a stage of its own, with the development packages; the image keeps only web/dist.
FROM node:24-bookworm-slim AS web
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY web web
RUN node_modules/.bin/vite build web --logLevel warn

FROM node:24-bookworm-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --user-group --home-dir /var/lib/onair --create-home --shell /usr/sbin/nologin onair

WORKDIR /opt/onair
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY bin bin
COPY src src
COPY --from=web /build/web/dist web/dist

USER onair
ENV ONAIR_DATA_DIR=/var/lib/onair ONAIR_HTTP_HOST=0.0.0.0 ONAIR_LOG_FORMAT=json
VOLUME /var/lib/onair
# The API; the gate's routes over TCP on the default channel's port (seed 002's clients); SRT over UDP.
EXPOSE 10800/tcp 10300/tcp 10300-10399/udp
# The image has no curl: Node asks /ping.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
  CMD ["node_modules/.bin/node", "-e", "fetch(`http://127.0.0.1:${process.env.ONAIR_HTTP_PORT ?? 10800}/ping`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
# Node itself, no shell or npm between: SIGTERM reaches onair, which stops its ffmpeg children and exits.
CMD ["node_modules/.bin/node", "src/main.ts", "serve"]
