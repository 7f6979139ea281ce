# A GPU worker: CUDA toolkit, Open MPI and NCCL, Meridian built for sm_80 and
# sm_90; runs the node agent. Build from the repository root:
#   docker build -f docker/worker.Dockerfile -t meridian-worker .
FROM nvidia/cuda:12.6.3-devel-ubuntu24.04
WORKDIR /opt/meridian
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN apt-get update && apt-get install -y --no-install-recommends libnccl2 libnccl-dev && \
    MERIDIAN_NO_TORCH=1 bash scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN bash scripts/build.sh -DMERIDIAN_BUILD_TESTS=OFF -DMERIDIAN_NATIVE=OFF
# The agent, and the ranks it hosts, run as an unprivileged user.
RUN useradd --system --create-home meridian
USER meridian
ENTRYPOINT ["/opt/meridian/build/bin/meridian-scheduler", "agent"]
CMD ["--scheduler", "scheduler:50051", "--data-center", "dc-east", "--slots", "8"]
