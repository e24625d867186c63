// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * Lab 7.3 in C, as a student would write it: XDP programs lb_round_robin, lb_hash,
 * lb_redirect and lb_dsr sharing the maps backends, stats, backend_stats and tx_ports (stats
 * and backend_stats are ARRAYs here, where the Rust reference uses PERCPU_ARRAYs, so the suite
 * reads both kinds). Same contract as ebpf/programs/src/bin/lab-7-3.rs.
 *
 *   clang -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu -c lb.c -o lb.o
 *
 * Defining one of these turns the file into a mutant with one realistic mistake:
 *
 *   BUG_NO_IP_CSUM       the IPv4 header checksum is not updated after the address changes
 *   BUG_NO_L4_CSUM       the TCP/UDP checksum is not updated (the pseudo-header changed)
 *   BUG_UDP_ZERO_CSUM    a UDP checksum of 0 ("none") is updated like any other, into garbage
 *   BUG_NO_DST_MAC       the destination MAC is left as the load balancer's
 *   BUG_PASS             XDP_PASS instead of XDP_TX (the rewritten frame goes up the LB's stack)
 *   BUG_ALWAYS_0         round robin always picks backend 0
 *   BUG_HASH_DST         lb_hash and lb_dsr hash the destination address, not the source
 *   BUG_HASH_PORTS       lb_hash and lb_dsr hash the source address and both ports
 *   BUG_REWRITE_SRC      the source address is rewritten instead of the destination
 *   BUG_BALANCE_ALL      every TCP/UDP packet is balanced, not only those to the VIP
 *   BUG_DSR_KEEP_SRC_MAC lb_dsr leaves the source MAC as the client's
 *   BUG_PERCPU_CURSOR    the round-robin cursor is a PERCPU_ARRAY: each CPU rotates alone
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define NBACKENDS 3
#define VIP 0xc0a80164 /* 192.168.1.100 */

struct backend {
	__be32 ip;
	__u8 mac[6];
	__u8 pad[2];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NBACKENDS);
	__type(key, __u32);
	__type(value, struct backend);
} backends SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NBACKENDS);
	__type(key, __u32);
	__type(value, __u64);
} backend_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, NBACKENDS);
	__type(key, __u32);
	__type(value, __u32);
} tx_ports SEC(".maps");

struct {
#ifdef BUG_PERCPU_CURSOR
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
#else
	__uint(type, BPF_MAP_TYPE_ARRAY);
#endif
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} rr SEC(".maps");

struct pkt {
	struct ethhdr *eth;
	struct iphdr *ip;
	__u32 *ports; /* source and destination port, as one word */
	__sum16 *l4_check;
	int udp;
};

/* A TCP or UDP packet to the VIP with its whole transport header: 1, else 0. */
static __always_inline int parse(struct xdp_md *ctx, struct pkt *p)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip;
	void *l4;

	if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return 0;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end)
		return 0;
#ifndef BUG_BALANCE_ALL
	if (ip->daddr != bpf_htonl(VIP))
		return 0;
#endif
	if (ip->ihl < 5)
		return 0;
	l4 = (void *)ip + ip->ihl * 4;
	if (ip->protocol == IPPROTO_TCP) {
		if (l4 + 20 > end)
			return 0;
		p->l4_check = l4 + 16;
		p->udp = 0;
	} else if (ip->protocol == IPPROTO_UDP) {
		if (l4 + 8 > end)
			return 0;
		p->l4_check = l4 + 6;
		p->udp = 1;
	} else {
		return 0;
	}
	p->eth = eth;
	p->ip = ip;
	p->ports = l4;
	return 1;
}

/* RFC 1624: the checksum after a 32-bit word it covers changes from `from` to `to`. */
static __always_inline __u16 csum_replace4(__u16 check, __u32 from, __u32 to)
{
	__u32 sum = (__u16)~check;

	sum += (~from >> 16) & 0xffff;
	sum += ~from & 0xffff;
	sum += to >> 16;
	sum += to & 0xffff;
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

static __always_inline void count(__u32 i)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&stats, &zero);

	if (n)
		__sync_fetch_and_add(n, 1);
	n = bpf_map_lookup_elem(&backend_stats, &i);
	if (n)
		__sync_fetch_and_add(n, 1);
}

static __always_inline __u32 round_robin(void)
{
#ifdef BUG_ALWAYS_0
	return 0;
#else
	__u32 zero = 0;
	__u64 *next = bpf_map_lookup_elem(&rr, &zero);

	if (!next)
		return 0;
	/* No fetch-and-add before BPF v3: add, then read back. */
	__sync_fetch_and_add(next, 1);
	return (*next - 1) % NBACKENDS;
#endif
}

static __always_inline __u32 hash(struct pkt *p)
{
#if defined(BUG_HASH_DST)
	__u32 h = bpf_ntohl(p->ip->daddr);
#elif defined(BUG_HASH_PORTS)
	__u32 h = bpf_ntohl(p->ip->saddr) ^ *p->ports;
#else
	__u32 h = bpf_ntohl(p->ip->saddr);
#endif
	h ^= h >> 16;
	h *= 0x85ebca6b;
	h ^= h >> 13;
	h *= 0xc2b2ae35;
	h ^= h >> 16;
	return h % NBACKENDS;
}

/* NAT rewrite to backend i: 1 on success, 0 when the backend table has no entry. */
static __always_inline int rewrite(struct pkt *p, __u32 i)
{
	struct backend *b = bpf_map_lookup_elem(&backends, &i);
	__u32 old, new;

	if (!b)
		return 0;
#ifdef BUG_REWRITE_SRC
	old = p->ip->saddr;
	p->ip->saddr = b->ip;
#else
	old = p->ip->daddr;
	p->ip->daddr = b->ip;
#endif
	new = b->ip;
#ifndef BUG_NO_IP_CSUM
	p->ip->check = bpf_htons(csum_replace4(bpf_ntohs(p->ip->check), bpf_ntohl(old), bpf_ntohl(new)));
#endif
#ifndef BUG_NO_L4_CSUM
#ifdef BUG_UDP_ZERO_CSUM
	if (1) {
#else
	if (!p->udp || *p->l4_check != 0) {
#endif
		__u16 c = csum_replace4(bpf_ntohs(*p->l4_check), bpf_ntohl(old), bpf_ntohl(new));

		if (p->udp && c == 0)
			c = 0xffff;
		*p->l4_check = bpf_htons(c);
	}
#endif
#ifndef BUG_NO_DST_MAC
	__builtin_memcpy(p->eth->h_dest, b->mac, ETH_ALEN);
#endif
	count(i);
	return 1;
}

#ifdef BUG_PASS
#define BALANCED XDP_PASS
#else
#define BALANCED XDP_TX
#endif

SEC("xdp")
int lb_round_robin(struct xdp_md *ctx)
{
	struct pkt p;

	if (!parse(ctx, &p) || !rewrite(&p, round_robin()))
		return XDP_PASS;
	return BALANCED;
}

SEC("xdp")
int lb_hash(struct xdp_md *ctx)
{
	struct pkt p;

	if (!parse(ctx, &p) || !rewrite(&p, hash(&p)))
		return XDP_PASS;
	return BALANCED;
}

SEC("xdp")
int lb_redirect(struct xdp_md *ctx)
{
	struct pkt p;
	__u32 i;

	if (!parse(ctx, &p))
		return XDP_PASS;
	i = round_robin();
	if (!rewrite(&p, i))
		return XDP_PASS;
	return bpf_redirect_map(&tx_ports, i, 0);
}

SEC("xdp")
int lb_dsr(struct xdp_md *ctx)
{
	struct pkt p;
	struct backend *b;
	__u32 i;

	if (!parse(ctx, &p))
		return XDP_PASS;
	i = hash(&p);
	b = bpf_map_lookup_elem(&backends, &i);
	if (!b)
		return XDP_PASS;
#ifndef BUG_DSR_KEEP_SRC_MAC
	/* The frame was addressed to the load balancer: its destination is our own MAC. */
	__builtin_memcpy(p.eth->h_source, p.eth->h_dest, ETH_ALEN);
#endif
#ifndef BUG_NO_DST_MAC
	__builtin_memcpy(p.eth->h_dest, b->mac, ETH_ALEN);
#endif
	count(i);
	return BALANCED;
}
