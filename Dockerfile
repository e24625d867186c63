# xdplab in a container, for graders whose containers may be privileged (`docker run
# --privileged`): the host's kernel runs the students' programs, so the container needs BPF
# and network-namespace rights. Where containers are not privileged (Gradescope, most CI
# sandboxes), grade in a VM instead: `xdplab grade --vm` (docs/grading-anywhere.md).
#
#   docker build -t xdplab .
#   docker run --rm --privileged -v "$PWD:/work" -w /work xdplab grade 7.1 submissions --out results
#
# The build stage is the README's set-up (scripts/bootstrap.sh: the pinned Rust toolchain and
# bpf-linker, which builds the reference XDP programs into the binary).
FROM debian:12 AS build
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        ca-certificates curl build-essential pkg-config git python3 python3-pip clang \
        libbpf-dev \
    && rm -rf /var/lib/apt/lists/*
RUN curl -sSf https://sh.rustup.rs | sh -s -- -y --default-toolchain none --profile minimal
ENV PATH=/root/.cargo/bin:$PATH
WORKDIR /src
COPY . .
RUN scripts/bootstrap.sh && cargo build --release --bin xdplab

# What grading needs at run time: clang and the libbpf headers to compile C submissions (as
# students do), iproute2 and bpftool to look around when something goes wrong.
FROM debian:12-slim
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        clang llvm libbpf-dev linux-libc-dev iproute2 bpftool ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/xdplab /usr/local/bin/xdplab
ENTRYPOINT ["xdplab"]
CMD ["--help"]
