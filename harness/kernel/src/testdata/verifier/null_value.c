// Uses a hash map's value without checking it for NULL.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 16); __type(key, __u32); __type(value, __u64); } seen SEC(".maps");
SEC("xdp") int prog(struct xdp_md *ctx) {
    __u32 key = ctx->ingress_ifindex;
    __u64 *v = bpf_map_lookup_elem(&seen, &key);
    *v += 1;
    return XDP_PASS;
}
char LICENSE[] SEC("license") = "GPL";
