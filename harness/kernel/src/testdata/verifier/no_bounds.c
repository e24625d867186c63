// Reads the EtherType without comparing against data_end first.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
SEC("xdp") int prog(struct xdp_md *ctx) {
    void *data = (void *)(long)ctx->data;
    return *(__u16 *)(data + 12) == 8 ? XDP_DROP : XDP_PASS;
}
char LICENSE[] SEC("license") = "GPL";
