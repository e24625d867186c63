// A hostile lab 7.1 submission: every frame runs OUTER rounds of a bpf_loop of 8M iterations
// (about 15 ms a round on the test machine), one BPF_PROG_TEST_RUN call the kernel cannot
// interrupt, so a SIGKILL takes effect only when the call returns.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 4);
    __type(key, __u32);
    __type(value, __u64);
} stats SEC(".maps");

static long inner(__u32 i, void *ctx) { return 0; }
static long outer(__u32 i, void *ctx) { bpf_loop(1 << 23, inner, NULL, 0); return 0; }

SEC("xdp") int ip_filter(struct xdp_md *ctx) { bpf_loop(OUTER, outer, NULL, 0); return XDP_PASS; }
SEC("xdp") int port_filter(struct xdp_md *ctx) { bpf_loop(OUTER, outer, NULL, 0); return XDP_PASS; }
SEC("xdp") int firewall(struct xdp_md *ctx) { bpf_loop(OUTER, outer, NULL, 0); return XDP_PASS; }

char LICENSE[] SEC("license") = "GPL";
