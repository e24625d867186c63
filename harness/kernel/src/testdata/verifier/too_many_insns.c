// Each of 64 rounds branches on the packet, so the verifier walks 2^N paths: past the limit.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
SEC("xdp") int prog(struct xdp_md *ctx) {
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    if (data + 64 > end) return XDP_PASS;
    __u64 acc = 0;
#pragma unroll
    for (int i = 0; i < 64; i++) {
        if (((unsigned char *)data)[i] & 1) acc = acc * 3 + i; else acc ^= i << 2;
    }
    return acc & 1 ? XDP_DROP : XDP_PASS;
}
char LICENSE[] SEC("license") = "GPL";
