# The scheduler daemon. Build from the repository root:
#   docker build -f docker/scheduler.Dockerfile -t meridian-scheduler .
FROM debian:12
WORKDIR /opt/meridian
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN MERIDIAN_NO_TORCH=1 bash scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN bash scripts/build.sh -DMERIDIAN_BUILD_TESTS=OFF -DMERIDIAN_CUDA=OFF -DMERIDIAN_NATIVE=OFF
# The daemon, and the jobs it starts, run as an unprivileged user.
RUN useradd --system --create-home --home-dir /var/lib/meridian meridian && chown meridian /var/lib/meridian
USER meridian
EXPOSE 50051
VOLUME /var/lib/meridian
# Reachable on the compose network only, plaintext and without tokens
# (--insecure): for a real deployment mount a certificate and a token file
# and pass --tls-cert, --tls-key and --token-file instead (docs/deploy.md).
ENTRYPOINT ["/opt/meridian/build/bin/meridian-scheduler", "--listen", "0.0.0.0:50051", "--insecure", "--state", "/var/lib/meridian"]
