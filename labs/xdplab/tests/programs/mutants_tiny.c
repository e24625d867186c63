// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * A correct lab 7.1 ip_filter with few mutation sites (macros are never mutated), for the test of
 * `xdplab mutants`. Known outcomes: `(eth + 1) > end` -> `>=` survives (a 14-byte frame passes
 * and counts in stats[1] either way, as the contract says of every truncated frame);
 * XDP_DROP -> XDP_PASS is killed by the blocked-source checks.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

#define COUNTED(bucket, action)                                     \
	({                                                          \
		__u32 key = (bucket);                               \
		__u64 *n = bpf_map_lookup_elem(&stats, &key);       \
		if (n)                                              \
			__sync_fetch_and_add(n, 1);                 \
		(action);                                           \
	})
#define IS_IPV4(eth, ip, end) ((eth)->h_proto == bpf_htons(ETH_P_IP) && (void *)((ip) + 1) <= (end))
#define BLOCKED(ip) ((ip)->saddr == bpf_htonl(0x0a000001) || (ip)->saddr == bpf_htonl(0xc0a80164))

SEC("xdp")
int ip_filter(struct xdp_md *ctx)
{
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = (void *)(long)ctx->data;
	struct iphdr *ip = (void *)(eth + 1);

	if ((void *)(eth + 1) > end)
		return COUNTED(1, XDP_PASS);
	if (IS_IPV4(eth, ip, end) && BLOCKED(ip))
		return COUNTED(0, XDP_DROP);
	return COUNTED(1, XDP_PASS);
}
