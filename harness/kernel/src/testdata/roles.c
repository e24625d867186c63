// Maps that test how contract maps are found by role: a counter ARRAY named after another
// contract map (`backend_stats`), a blocklist-like HASH with 1-byte values under another name,
// and, with -DSMALL_STATS, a `stats` map of 2 entries.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, __u64);
} backend_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u8);
} blocked SEC(".maps");

#ifdef SMALL_STATS
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");
#endif

SEC("xdp")
int roles(struct xdp_md *ctx)
{
	__u32 key = 0;
	__u64 *n = bpf_map_lookup_elem(&backend_stats, &key);

	if (n)
		__sync_fetch_and_add(n, 1);
	if (bpf_map_lookup_elem(&blocked, &key))
		return XDP_DROP;
#ifdef SMALL_STATS
	n = bpf_map_lookup_elem(&stats, &key);
	if (n)
		__sync_fetch_and_add(n, 1);
#endif
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
