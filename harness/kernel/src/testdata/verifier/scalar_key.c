// The key of a map lookup is a number, not a pointer to the key: a missing memory argument.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 16); __type(key, __u32); __type(value, __u64); } seen SEC(".maps");
SEC("xdp") int prog(struct xdp_md *ctx) {
    __u64 *v = bpf_map_lookup_elem(&seen, (void *)(long)ctx->ingress_ifindex);
    return v ? XDP_DROP : XDP_PASS;
}
char LICENSE[] SEC("license") = "GPL";
