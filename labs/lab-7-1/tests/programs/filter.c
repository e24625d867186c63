// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * Lab 7.1 in C, as a student would write it: XDP programs ip_filter, port_filter and firewall
 * sharing the map `stats` (ARRAY here, where the Rust reference uses PERCPU_ARRAY, so the test
 * suite reads both kinds). Same contract as ebpf/programs/src/bin/lab-7-1.rs.
 *
 *   clang -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu -c filter.c -o filter.o
 *
 * Defining one of these turns the file into a mutant with one realistic mistake. The right
 * column is a frame (and program) whose outcome differs from the reference:
 *
 *   BUG_SRC_HOST_ORDER   ip_filter compares saddr with  ip_filter: 10.0.0.1 passes (stats[1]),
 *                        host-order constants           1.0.0.10 is dropped (stats[0])
 *   BUG_PORT_HOST_ORDER  port_filter forgets ntohs on   port_filter: TCP to 22 passes, TCP to
 *                        the destination port           5632 (0x1600) is dropped
 *   BUG_FIXED_IHL        transport header assumed at    port_filter, firewall: TCP to 22 with
 *                        14 + 20 whatever the IHL       IHL 6 passes; IHL 4 (no transport header)
 *                                                       to 22 is dropped
 *   BUG_IHL_LITERAL      transport header taken at      port_filter, firewall: IHL 4 to 10.0.0.22
 *                        14 + IHL*4 even for IHL < 5    is dropped (its "ports" are the low bytes
 *                                                       of the destination address)
 *   BUG_SOURCE_PORT      port_filter checks the source  port_filter: source 22 to 1234 dropped,
 *                        port                           1234 to 22 passes
 *   BUG_TCP_ONLY         port_filter ignores UDP        port_filter: UDP to 23 passes
 *   BUG_RULE_ORDER       firewall tests the source      firewall: ICMP from 10.0.0.1 counted in
 *                        before ICMP                    stats[1] instead of stats[0] (both DROP)
 *   BUG_WRONG_BUCKET     firewall counts port drops in  firewall: TCP to 80 counted in stats[3]
 *                        the pass bucket                instead of stats[2] (DROP either way)
 *   BUG_DEST_ADDR        ip_filter matches daddr        ip_filter: 1.2.3.4 -> 10.0.0.1 dropped,
 *                                                       10.0.0.1 -> 1.2.3.4 passes
 *   BUG_DROP_NON_IPV4    other EtherTypes dropped       all three: ARP, IPv6, VLAN-tagged frames
 *                                                       are dropped (still counted as "else")
 *   BUG_ABORT_TRUNCATED  XDP_ABORTED when the Ethernet  all three: EtherType 0x0800 with fewer
 *                        or IPv4 header is incomplete   than 34 bytes returns ABORTED
 *   BUG_NO_BOUNDS_CHECK  port_filter reads the ports    the verifier rejects port_filter at load
 *                        without checking data_end      time ("invalid access to packet")
 *   BUG_FRAME_END_ONLY   the transport header is read   port_filter, firewall: a datagram that
 *                        up to the frame's end, not     ends before the ports, padded to 60 bytes
 *                        the IPv4 total length          with bytes reading 22 or 80, is dropped
 *   BUG_FRAGMENT_PORTS   ports read from every          port_filter, firewall: a later fragment
 *                        fragment                       whose data reads as port 22 is dropped
 *   BUG_IHL_BELOW_5_NOT_IPV4  an IHL below 5 is taken   ip_filter, firewall: 10.0.0.1 with IHL 4
 *                        as "not IPv4"                  passes; ICMP with IHL 4 passes
 *   BUG_UDP_FULL_HEADER  firewall wants all 8 bytes of  firewall: UDP to 80 with 4 to 7 header
 *                        a UDP header                   bytes passes
 *   BUG_ICMP_NEEDS_HEADER  firewall drops ICMP only     firewall: ICMP cut right after its IPv4
 *                        with 8 ICMP bytes present      header passes
 *   BUG_ANY_PROTOCOL     ports read whatever the        port_filter, firewall: GRE whose first
 *                        protocol                       bytes read as port 22 or 80 is dropped
 *   BUG_HARDCODED        port_filter applies its rule   passes with the default frames, whose
 *                        only to ephemeral source       source ports are all ephemeral; fails
 *                        ports (32768 and up), as the   once `--seed` draws source ports below
 *                        harness's default frames use   32768
 *
 * Mutants the hand-written checks miss and the differential check catches (tests/differential.rs):
 *   BUG_IHL4_SRC         ip_filter passes IHL < 5, even from 10.0.0.1
 *   BUG_FRAGMENT_PASS    port_filter passes fragments (MF set or an offset)
 *   BUG_PAD_60           port_filter passes frames longer than 14 + total length (Ethernet padding)
 *   BUG_UDP_CUT_6        port_filter drops UDP to a blocked port with only 6 header bytes present
 *   BUG_SYN_FIN          port_filter passes TCP with both SYN and FIN set
 *   BUG_NONATOMIC_COUNTER stats[i] += 1, not an     all three: counts-from-2-cpus (two CPUs
 *                        atomic add                     at once lose updates)
 *
 * Mistakes on fields the rules ignore (tests/c_programs.rs, fields_the_rules_ignore):
 *   BUG_SCTP_PORTS       SCTP (132) has its ports where  port_filter, firewall: SCTP to 22 or
 *                        TCP's are, so its ports are     80 is dropped
 *                        read too
 *   BUG_UDP_LENGTH_MIN   UDP whose length field is       port_filter, firewall: UDP to 22 with
 *                        below 8 has no header           length field 0 passes
 *   BUG_TCP_DOFF_MIN     TCP whose data offset is below  port_filter, firewall: TCP to 22 with
 *                        5 has no header                 data offset 4 passes
 *   BUG_ICMP_ECHO_ONLY   firewall drops only ICMP echo   firewall: an echo reply passes
 *                        requests (type 8)
 *   BUG_TOTLEN_20        the transport length is total   port_filter, firewall: IHL 6, total
 *                        length - 20, whatever the IHL   length 26, padding reading as port 80:
 *                                                        dropped
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

/* Dodges, for the tests that check no dodge earns an exemption: XDP_SECTION="xdp/devmap" builds
 * programs an interface cannot run; SLOW_LOOPS=N makes every frame cost N bpf_loop rounds. */
#ifndef XDP_SECTION
#define XDP_SECTION "xdp"
#endif

char LICENSE[] SEC("license") = "Dual MIT/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/* TCP and UDP headers both start with the two ports. */
struct ports {
	__be16 source;
	__be16 dest;
};

#ifdef BUG_ABORT_TRUNCATED
#define TRUNCATED XDP_ABORTED
#else
#define TRUNCATED XDP_PASS
#endif
#ifdef BUG_DROP_NON_IPV4
#define NOT_IPV4 XDP_DROP
#else
#define NOT_IPV4 XDP_PASS
#endif
#define IS_IPV4 (-1)

static __always_inline int count(__u32 bucket, int action)
{
	__u64 *n = bpf_map_lookup_elem(&stats, &bucket);

	if (n)
#ifdef BUG_NONATOMIC_COUNTER
		*n += 1;
#else
		__sync_fetch_and_add(n, 1);
#endif
	return action;
}

/* Finds the IPv4 header. Returns IS_IPV4, or the action for a frame the rules do not apply to. */
static __always_inline int parse_ipv4(struct xdp_md *ctx, struct iphdr **ip)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > end)
		return TRUNCATED;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return NOT_IPV4;
	*ip = (void *)(eth + 1);
	if ((void *)(*ip + 1) > end)
		return TRUNCATED;
#ifdef BUG_IHL_BELOW_5_NOT_IPV4
	if ((*ip)->ihl < 5)
		return NOT_IPV4;
#endif
	return IS_IPV4;
}

/* The TCP or UDP header if its first `len` bytes are in the frame, else NULL. */
static __always_inline struct ports *transport(struct xdp_md *ctx, struct iphdr *ip, int len)
{
	void *end = (void *)(long)ctx->data_end;
	void *l4;

#if defined(BUG_SCTP_PORTS)
	if (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP &&
	    ip->protocol != IPPROTO_SCTP)
		return NULL;
#elif !defined(BUG_ANY_PROTOCOL)
	if (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP)
		return NULL;
#endif
#ifndef BUG_FRAGMENT_PORTS
	/* A later fragment's data continues another fragment's: no transport header. */
	if (ip->frag_off & bpf_htons(0x1fff))
		return NULL;
#endif
#ifdef BUG_FIXED_IHL
	l4 = (void *)(ip + 1);
#else
#ifndef BUG_IHL_LITERAL
	if (ip->ihl < 5)
		return NULL;
#endif
	l4 = (void *)ip + ip->ihl * 4;
#endif
	if (l4 + len > end)
		return NULL;
#if defined(BUG_TOTLEN_20)
	if ((long)sizeof(*ip) + len > bpf_ntohs(ip->tot_len))
		return NULL;
#elif !defined(BUG_FRAME_END_ONLY)
	/* The datagram ends at its total length; Ethernet padding may follow. */
	if ((long)(l4 - (void *)ip) + len > bpf_ntohs(ip->tot_len))
		return NULL;
#endif
#ifdef BUG_UDP_LENGTH_MIN
	if (ip->protocol == IPPROTO_UDP && l4 + 6 <= end && bpf_ntohs(*(__be16 *)(l4 + 4)) < 8)
		return NULL;
#endif
#ifdef BUG_TCP_DOFF_MIN
	if (ip->protocol == IPPROTO_TCP && l4 + 13 <= end && (*(__u8 *)(l4 + 12) >> 4) < 5)
		return NULL;
#endif
	return l4;
}

SEC(XDP_SECTION)
int ip_filter(struct xdp_md *ctx)
{
	struct iphdr *ip;
	int action = parse_ipv4(ctx, &ip);

	if (action != IS_IPV4)
		return count(1, action);
#ifdef BUG_IHL4_SRC
	if (ip->ihl < 5)
		return count(1, XDP_PASS);
#endif
#if defined(BUG_SRC_HOST_ORDER)
	__u32 addr = ip->saddr;
#elif defined(BUG_DEST_ADDR)
	__u32 addr = bpf_ntohl(ip->daddr);
#else
	__u32 addr = bpf_ntohl(ip->saddr);
#endif
	if (addr == 0x0a000001 || addr == 0xc0a80164) /* 10.0.0.1, 192.168.1.100 */
		return count(0, XDP_DROP);
	return count(1, XDP_PASS);
}

SEC(XDP_SECTION)
int port_filter(struct xdp_md *ctx)
{
	struct iphdr *ip;
	struct ports *l4;
	int action = parse_ipv4(ctx, &ip);

	if (action != IS_IPV4)
		return count(1, action);
#if defined(BUG_TCP_ONLY)
	if (ip->protocol != IPPROTO_TCP)
		return count(1, XDP_PASS);
#endif
#ifdef BUG_FRAGMENT_PASS
	if (ip->frag_off & bpf_htons(0x3fff))
		return count(1, XDP_PASS);
#endif
#ifdef BUG_PAD_60
	if ((void *)ip + bpf_ntohs(ip->tot_len) != (void *)(long)ctx->data_end)
		return count(1, XDP_PASS);
#endif
#ifdef BUG_UDP_CUT_6
	if (ip->protocol == IPPROTO_UDP) {
		l4 = transport(ctx, ip, 6);
		if (l4 && (l4->dest == bpf_htons(22) || l4->dest == bpf_htons(23) ||
			   l4->dest == bpf_htons(3389)))
			return count(0, XDP_DROP);
	}
#endif
#ifdef BUG_SYN_FIN
	if (ip->protocol == IPPROTO_TCP) {
		__u8 *t = (void *)transport(ctx, ip, 14);

		if (t && (t[13] & 0x03) == 0x03)
			return count(1, XDP_PASS);
	}
#endif
#if defined(BUG_NO_BOUNDS_CHECK)
	if (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP)
		return count(1, XDP_PASS);
	l4 = (void *)ip + ip->ihl * 4;
#else
	l4 = transport(ctx, ip, 8);
	if (!l4)
		return count(1, XDP_PASS);
#endif
#if defined(BUG_PORT_HOST_ORDER)
	__u16 port = l4->dest;
#elif defined(BUG_SOURCE_PORT)
	__u16 port = bpf_ntohs(l4->source);
#else
	__u16 port = bpf_ntohs(l4->dest);
#endif
#ifdef BUG_HARDCODED
	if (bpf_ntohs(l4->source) < 32768)
		return count(1, XDP_PASS);
#endif
	if (port == 22 || port == 23 || port == 3389)
		return count(0, XDP_DROP);
	return count(1, XDP_PASS);
}

SEC(XDP_SECTION)
int firewall(struct xdp_md *ctx)
{
	struct iphdr *ip;
	struct ports *l4;
	int action = parse_ipv4(ctx, &ip);

	if (action != IS_IPV4)
		return count(3, action);
#ifdef BUG_RULE_ORDER
	if (ip->saddr == bpf_htonl(0x0a000001))
		return count(1, XDP_DROP);
	if (ip->protocol == IPPROTO_ICMP)
		return count(0, XDP_DROP);
#else
#if defined(BUG_ICMP_NEEDS_HEADER)
	if (ip->protocol == IPPROTO_ICMP && (void *)(ip + 1) + 8 <= (void *)(long)ctx->data_end)
#elif defined(BUG_ICMP_ECHO_ONLY)
	/* An ICMP type that is there and is not 8 (echo request) is let through. */
	if (ip->protocol == IPPROTO_ICMP &&
	    ((void *)(ip + 1) + 1 > (void *)(long)ctx->data_end || *(__u8 *)(ip + 1) == 8))
#else
	if (ip->protocol == IPPROTO_ICMP)
#endif
		return count(0, XDP_DROP);
	if (ip->saddr == bpf_htonl(0x0a000001)) /* 10.0.0.1 */
		return count(1, XDP_DROP);
#endif
	l4 = transport(ctx, ip, 4);
#ifdef BUG_UDP_FULL_HEADER
	if (l4 && ip->protocol == IPPROTO_UDP && !transport(ctx, ip, 8))
		l4 = NULL;
#endif
	if (l4 && (l4->dest == bpf_htons(22) || l4->dest == bpf_htons(80)))
#ifdef BUG_WRONG_BUCKET
		return count(3, XDP_DROP);
#else
		return count(2, XDP_DROP);
#endif
	return count(3, XDP_PASS);
}
