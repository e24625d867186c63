// Returns the verdict given as -DVERDICT=... for every IPv4 frame and passes the rest, as every
// lab's contract requires: the smallest programs that exercise each path the harness observes.
// With -DDROP_ALL it drops non-IPv4 frames too, against every contract.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int verdict(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

#ifndef DROP_ALL
	if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
#endif
	return VERDICT;
}

char _license[] SEC("license") = "GPL";
