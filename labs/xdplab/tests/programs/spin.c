// A hostile lab 7.1 submission: every program burns about a second of CPU per frame in
// bpf_loop before passing it, so grading it runs into the time limit. With -DSLOW it burns
// only some microseconds: a slow program, far behind the reference in `xdplab bench`.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 4);
    __type(key, __u32);
    __type(value, __u64);
} stats SEC(".maps");

#ifdef SLOW
#define ROUNDS 1
#define ITERATIONS (1 << 12)
#else
#define ROUNDS 16
#define ITERATIONS (1 << 23)
#endif

static long spin(__u32 i, void *ctx) { return 0; }

static __always_inline int burn(void)
{
    for (int i = 0; i < ROUNDS; i++)
        bpf_loop(ITERATIONS, spin, NULL, 0);
    return XDP_PASS;
}

SEC("xdp") int ip_filter(struct xdp_md *ctx) { return burn(); }
SEC("xdp") int port_filter(struct xdp_md *ctx) { return burn(); }
SEC("xdp") int firewall(struct xdp_md *ctx) { return burn(); }

char LICENSE[] SEC("license") = "GPL";
