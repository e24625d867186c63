// Loops until a stack value changes, which nothing changes.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
SEC("xdp") int prog(struct xdp_md *ctx) {
    volatile int stop = 0;
    while (!stop) {}
    return XDP_PASS;
}
char LICENSE[] SEC("license") = "GPL";
