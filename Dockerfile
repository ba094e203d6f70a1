# The rtds image: `docker build -t rtds .` (docker-compose.yml builds it as rtds:local).
# The entrypoint is `rtds`: `docker run --rm rtds api fetch --results 1` runs one command.

FROM rust:1-bookworm AS build
# rdkafka builds its bundled librdkafka with gcc, make and zlib; native-tls links OpenSSL.
# The rust image ships all of them; installing them again is a no-op that keeps this explicit.
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential pkg-config zlib1g-dev libssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src

# Dependencies first, in their own layer, so that editing src/ does not rebuild them. Cargo
# checks that every target Cargo.toml names exists, so the [[test]] and [[bench]] files are stubbed.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches tests \
 && echo 'fn main() {}' > src/main.rs \
 && touch src/lib.rs \
 && echo 'fn main() {}' > benches/records.rs \
 && echo 'fn main() {}' > benches/cassandra_ceiling.rs \
 && echo 'fn main() {}' > benches/views.rs \
 && echo 'fn main() {}' > benches/checkpoint.rs \
 && touch tests/tests.rs \
 && cargo build --release --locked \
 && rm -rf src

COPY src src
COPY dataflows dataflows
# COPY keeps modification times, which can be older than the stub build's outputs: touch the crate
# roots so that cargo rebuilds rtds itself.
RUN touch src/main.rs src/lib.rs \
 && cargo build --release --locked \
 && cp target/release/rtds /usr/local/bin/rtds

FROM debian:bookworm-slim
# What the binary links beyond libc (ldd: libssl.so.3, libcrypto.so.3, libgcc_s), and CA
# certificates for https://randomuser.me.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --create-home --home-dir /var/lib/rtds rtds
COPY --from=build /usr/local/bin/rtds /usr/local/bin/rtds
COPY dataflows /etc/rtds/dataflows
USER rtds
# The workers' checkpoints (RTDS_STATE_DIR in docker-compose.yml), owned by rtds so that a named
# volume mounted there is too.
RUN mkdir -p /var/lib/rtds/state
WORKDIR /var/lib/rtds
ENTRYPOINT ["rtds"]
