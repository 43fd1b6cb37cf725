# mpconv container image: docker build -t mpconv .
# Configuration by a mounted file (/etc/mpconv/mpconv.conf, or MPCONV_CONFIG)
# and/or MPCONV_* environment variables: see packaging/docker/README.md.

# Build stage: compile with Debian's libraries, install into /out.
FROM debian:12-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
        build-essential cmake pkg-config libuv1-dev libssl-dev libinih-dev \
    && rm -rf /var/lib/apt/lists/*
COPY . /src
RUN cmake -S /src -B /build -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
        -DMPCONV_TESTS=OFF -DMPCONV_SYSTEMD_UNITDIR= -DMPCONV_SYSUSERSDIR= \
    && cmake --build /build -j"$(nproc)" \
    && DESTDIR=/out cmake --install /build --strip

# Runtime stage: the binary, its three libraries and two small scripts.
FROM debian:12-slim
# ca-certificates, if a TLS upstream is verified against the system store
# rather than a mounted ?ca= file: --build-arg EXTRA_PACKAGES=ca-certificates
ARG EXTRA_PACKAGES=
# A fixed uid, so mounted secrets can be made readable by it on the host.
ARG MPCONV_UID=10001
RUN apt-get update && apt-get install -y --no-install-recommends libuv1 libssl3 libinih1 $EXTRA_PACKAGES \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid "$MPCONV_UID" mpconv \
    && useradd --system --uid "$MPCONV_UID" --gid mpconv --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin mpconv
COPY --from=build /out/usr/bin/mpconv /usr/bin/mpconv
COPY etc/mpconv.conf /usr/share/doc/mpconv/mpconv.conf.example
COPY packaging/docker/entrypoint.sh /usr/local/bin/mpconv-entrypoint
COPY packaging/docker/healthcheck.sh /usr/local/bin/mpconv-healthcheck
USER mpconv
EXPOSE 1080 8080
# SIGTERM drains sessions for [timeouts] drain (10 s): give `docker stop`
# --time 15 (compose: stop_grace_period: 15s).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/mpconv-healthcheck"]
ENTRYPOINT ["/usr/local/bin/mpconv-entrypoint"]
