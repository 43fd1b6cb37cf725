# Build stage: compile mpconv with Debian's libraries.
FROM debian:12-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
        build-essential cmake pkg-config libuv1-dev libssl-dev libinih-dev \
    && rm -rf /var/lib/apt/lists/*
COPY . /src
RUN cmake -S /src -B /build -DCMAKE_BUILD_TYPE=Release -DMPCONV_TESTS=OFF \
    && cmake --build /build -j \
    && strip /build/mpconv

# Runtime stage: the binary and its shared libraries only.
FROM debian:12-slim
RUN apt-get update && apt-get install -y --no-install-recommends libuv1 libssl3 libinih1 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --no-create-home --shell /usr/sbin/nologin mpconv
COPY --from=build /build/mpconv /usr/bin/mpconv
COPY etc/mpconv.conf /etc/mpconv/mpconv.conf
USER mpconv
EXPOSE 1080 8080
# Inside a container, listen on all interfaces (the built-in default is loopback).
ENTRYPOINT ["/usr/bin/mpconv"]
CMD ["-l", "socks5://0.0.0.0:1080", "-l", "http://0.0.0.0:8080"]
