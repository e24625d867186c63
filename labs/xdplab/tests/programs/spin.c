// A hostile lab 7.1 submission: every program burns about a second of CPU per frame in
// bpf_loop before passing it, so grading it runs into the time limit.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 4);
    __type(key, __u32);
    __type(value, __u64);
} stats SEC(".maps");

static long spin(__u32 i, void *ctx) { return 0; }

static __always_inline int burn(void)
{
    for (int i = 0; i < 16; i++)
        bpf_loop(1 << 23, spin, NULL, 0);
    return XDP_PASS;
}

SEC("xdp") int ip_filter(struct xdp_md *ctx) { return burn(); }
SEC("xdp") int port_filter(struct xdp_md *ctx) { return burn(); }
SEC("xdp") int firewall(struct xdp_md *ctx) { return burn(); }

char LICENSE[] SEC("license") = "GPL";
