# hookguard container image: a static-ish release build on Debian, copied
# into distroless (glibc, no shell, no package manager), running as the
# distroless `nonroot` user (65532). Nothing is written to the filesystem
# (logs go to stdout), so the root filesystem can be mounted read-only.
#
#   docker build -t hookguard .
#   docker run --read-only -p 8080:8080 -v "$PWD/config:/etc/hookguard:ro" hookguard

# --- build ---
FROM rust:1-slim AS builder
WORKDIR /src
# Dependencies first, so source edits do not rebuild them.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches examples \
    && echo 'fn main() {}' > src/main.rs \
    && echo '' > src/lib.rs \
    && echo 'fn main() {}' > benches/verify.rs \
    && cargo build --release --locked --bin hookguard \
    && rm -rf src benches
COPY src ./src
COPY benches ./benches
COPY examples ./examples
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked --bin hookguard \
    && strip target/release/hookguard

# --- run ---
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /src/target/release/hookguard /usr/local/bin/hookguard
USER nonroot:nonroot
# 8080: webhooks (8443 when TLS is configured); 9090: admin (health, metrics).
EXPOSE 8080 8443 9090
ENV HOOKGUARD_CONFIG=/etc/hookguard/hookguard.toml
ENTRYPOINT ["/usr/local/bin/hookguard"]
CMD ["serve"]
