// A helper's size argument read from the packet: not a constant, not bounded.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
SEC("xdp") int prog(struct xdp_md *ctx) {
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    unsigned char buf[64];
    if (data + 1 > end) return XDP_PASS;
    __u32 len = *(unsigned char *)data;
    if (bpf_xdp_load_bytes(ctx, 0, buf, len)) return XDP_PASS;
    return buf[0] ? XDP_DROP : XDP_PASS;
}
char LICENSE[] SEC("license") = "GPL";
