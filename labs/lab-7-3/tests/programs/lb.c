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
 *   BUG_HEADER_PLUS_ONE  the header test is `>=` where `>` was meant: a segment of exactly 20 TCP
 *                        (8 UDP) bytes, a bare ACK, is not balanced
 *   BUG_FRAME_END_ONLY   the transport header is looked for up to the frame's end, not the IPv4
 *                        total length: Ethernet padding completes a short header
 *   BUG_STRICT_LENGTH    frames longer than the IPv4 total length (Ethernet padding) are passed
 *   BUG_NO_IHL_CHECK     an IHL below 5 is not refused
 *   BUG_NO_VERSION_CHECK the IPv4 version nibble is not read
 *   BUG_NO_FRAG_CHECK    fragments after the first are balanced as if they had ports
 *   BUG_CURSOR_U8        the round-robin cursor is 8 bits: it wraps after 256 packets
 *   BUG_CURSOR_EVERY_FRAME the round-robin cursor moves for every frame, VIP or not
 *   BUG_UDP_CSUM_ZERO_OUT a rewritten UDP checksum that comes out 0 is sent as 0 ("none")
 *   BUG_TCP_ZERO_CSUM_SKIPPED a TCP checksum of 0x0000 is left alone, as UDP's "none" would be
 *   BUG_FIXED_BACKENDS   the backends are the README's, written in, not read from the map
 *   BUG_FIXED_LB_MAC     lb_dsr writes the README's LB MAC as source, not the frame's destination
 *   BUG_PERCPU_CURSOR    the round-robin cursor is a PERCPU_ARRAY: each CPU rotates alone
 *   BUG_FOLD_ONCE        the checksum update folds its carries once, not twice
 *   BUG_TCP_DOFF_MIN     TCP whose data offset is below 5 is passed (the offset is no rule's)
 *   BUG_UDP_LENGTH_MIN   UDP whose length field is below 8 is passed (the field is no rule's)
 *   BUG_NONATOMIC_COUNTER stats and backend_stats get a plain `+= 1`, not an atomic add
 *   BUG_CURSOR_U16       the round-robin cursor is 16 bits: it wraps after 65536 packets
 *
 * These are correct too (choices the contract leaves open), and must pass everything:
 *
 *   SRC_MAC_FROM_FRAME   the NAT programs make the source MAC the frame's destination (the LB's)
 *   IP_CSUM_RECOMPUTED   the IPv4 header checksum is computed afresh over IHL*4 bytes, not
 *                        updated: a header that arrived with a wrong checksum leaves with a
 *                        valid one
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
#define IP_OFFSET 0x1fff

#ifdef BUG_HEADER_PLUS_ONE
#define SHORT(p, n, end) ((void *)(p) + (n) >= (end))
#else
#define SHORT(p, n, end) ((void *)(p) + (n) > (end))
#endif

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
	void *end;
};

/* A TCP or UDP packet to the VIP with its whole transport header: 1, else 0. */
static __always_inline int parse(struct xdp_md *ctx, struct pkt *p)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip;
	void *l4;
	__u32 need;

	if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return 0;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end)
		return 0;
#ifndef BUG_BALANCE_ALL
	if (ip->daddr != bpf_htonl(VIP))
		return 0;
#endif
#ifndef BUG_NO_VERSION_CHECK
	if (ip->version != 4)
		return 0;
#endif
#ifndef BUG_NO_IHL_CHECK
	if (ip->ihl < 5)
		return 0;
#endif
#ifndef BUG_NO_FRAG_CHECK
	/* A later fragment carries no transport header. */
	if (ip->frag_off & bpf_htons(IP_OFFSET))
		return 0;
#endif
#ifdef BUG_STRICT_LENGTH
	{
		/* Bounded first: Debian 6.1's verifier refuses an unbounded offset on a packet pointer. */
		__u16 tot = bpf_ntohs(ip->tot_len);

		if (tot > 1500 || (void *)ip + tot != end)
			return 0;
	}
#endif
	l4 = (void *)ip + ip->ihl * 4;
	if (ip->protocol == IPPROTO_TCP) {
		if (SHORT(l4, 20, end))
			return 0;
		need = 20;
		p->l4_check = l4 + 16;
		p->udp = 0;
	} else if (ip->protocol == IPPROTO_UDP) {
		if (SHORT(l4, 8, end))
			return 0;
		need = 8;
		p->l4_check = l4 + 6;
		p->udp = 1;
	} else {
		return 0;
	}
#ifdef BUG_TCP_DOFF_MIN
	if (!p->udp && (*(__u8 *)(l4 + 12) >> 4) < 5)
		return 0;
#endif
#ifdef BUG_UDP_LENGTH_MIN
	if (p->udp && bpf_ntohs(*(__be16 *)(l4 + 4)) < 8)
		return 0;
#endif
#ifndef BUG_FRAME_END_ONLY
	/* The packet ends where its total length says; Ethernet padding may follow. */
	if (ip->ihl * 4 + need > bpf_ntohs(ip->tot_len))
		return 0;
#endif
	p->eth = eth;
	p->ip = ip;
	p->ports = l4;
	p->end = end;
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
#ifndef BUG_FOLD_ONCE
	sum = (sum & 0xffff) + (sum >> 16);
#endif
	return ~sum;
}

static __always_inline void count(__u32 i)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&stats, &zero);

	/* Written out, not as a macro: the mutation tool leaves macros alone. */
	if (n)
#ifdef BUG_NONATOMIC_COUNTER
		*n += 1;
#else
		__sync_fetch_and_add(n, 1);
#endif
	n = bpf_map_lookup_elem(&backend_stats, &i);
	if (n)
#ifdef BUG_NONATOMIC_COUNTER
		*n += 1;
#else
		__sync_fetch_and_add(n, 1);
#endif
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
#ifdef BUG_CURSOR_U8
	__u8 *cursor = (__u8 *)next;

	return (*cursor)++ % NBACKENDS;
#elif defined(BUG_CURSOR_U16)
	__u16 *cursor = (__u16 *)next;

	return (*cursor)++ % NBACKENDS;
#else
	/* No fetch-and-add before BPF v3: add, then read back. */
	__sync_fetch_and_add(next, 1);
	return (*next - 1) % NBACKENDS;
#endif
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

#ifdef IP_CSUM_RECOMPUTED
/* The IPv4 header checksum from scratch, options included. parse() saw the header inside
 * the frame; the verifier wants each word checked again (0: never happens). */
static __always_inline int ip_checksum(struct pkt *p)
{
	__u16 *w = (__u16 *)p->ip;
	__u32 sum = 0;
	int k;

	p->ip->check = 0;
	for (k = 0; k < 30; k++) {
		if (k >= p->ip->ihl * 2)
			break;
		if ((void *)(w + k + 1) > p->end)
			return 0;
		sum += w[k];
	}
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	p->ip->check = ~sum;
	return 1;
}
#endif

#ifdef BUG_FIXED_BACKENDS
/* The README's backends, as a student might copy them in. */
#define LOOKUP_BACKEND(b, i)                                                     \
	struct backend fixed = { .ip = bpf_htonl(0x0a000101 + (i)),            \
				 .mac = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x01 } }; \
	fixed.mac[5] += (i);                                                   \
	b = &fixed
#else
#define LOOKUP_BACKEND(b, i) b = bpf_map_lookup_elem(&backends, &(i))
#endif

/* NAT rewrite to backend i: 1 on success, 0 when the backend table has no entry. */
static __always_inline int rewrite(struct pkt *p, __u32 i)
{
	struct backend *b;
	__u32 old, new;

	LOOKUP_BACKEND(b, i);
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
#if defined(IP_CSUM_RECOMPUTED)
	if (!ip_checksum(p))
		return 0;
#elif !defined(BUG_NO_IP_CSUM)
	p->ip->check = bpf_htons(csum_replace4(bpf_ntohs(p->ip->check), bpf_ntohl(old), bpf_ntohl(new)));
#endif
#ifndef BUG_NO_L4_CSUM
#if defined(BUG_UDP_ZERO_CSUM)
	if (1) {
#elif defined(BUG_TCP_ZERO_CSUM_SKIPPED)
	if (*p->l4_check != 0) {
#else
	if (!p->udp || *p->l4_check != 0) {
#endif
		__u16 c = csum_replace4(bpf_ntohs(*p->l4_check), bpf_ntohl(old), bpf_ntohl(new));

#ifndef BUG_UDP_CSUM_ZERO_OUT
		if (p->udp && c == 0)
			c = 0xffff;
#endif
		*p->l4_check = bpf_htons(c);
	}
#endif
#ifdef SRC_MAC_FROM_FRAME
	/* The frame was addressed to the load balancer: its destination is our own MAC. */
	__builtin_memcpy(p->eth->h_source, p->eth->h_dest, ETH_ALEN);
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

#ifdef BUG_CURSOR_EVERY_FRAME
/* The backend is chosen before the frame is looked at. */
#define EARLY_PICK(i) i = round_robin()
#define PICK(i)
#else
#define EARLY_PICK(i)
#define PICK(i) i = round_robin()
#endif

/* Round robin and the NAT rewrite: 1 with the backend in *i, or 0 to pass the frame. */
static __always_inline int round_robin_rewrite(struct xdp_md *ctx, __u32 *i)
{
	struct pkt p;

	*i = 0;
	EARLY_PICK(*i);
	if (!parse(ctx, &p))
		return 0;
	PICK(*i);
	return rewrite(&p, *i);
}

SEC("xdp")
int lb_round_robin(struct xdp_md *ctx)
{
	__u32 i;

	return round_robin_rewrite(ctx, &i) ? BALANCED : XDP_PASS;
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
	__u32 i;

	if (!round_robin_rewrite(ctx, &i))
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
	LOOKUP_BACKEND(b, i);
	if (!b)
		return XDP_PASS;
#if defined(BUG_FIXED_LB_MAC)
	{
		/* The README's LB MAC, as a student might copy it in. */
		__u8 lb[ETH_ALEN] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };

		__builtin_memcpy(p.eth->h_source, lb, ETH_ALEN);
	}
#elif !defined(BUG_DSR_KEEP_SRC_MAC)
	/* The frame was addressed to the load balancer: its destination is our own MAC. */
	__builtin_memcpy(p.eth->h_source, p.eth->h_dest, ETH_ALEN);
#endif
#ifndef BUG_NO_DST_MAC
	__builtin_memcpy(p.eth->h_dest, b->mac, ETH_ALEN);
#endif
	count(i);
	return BALANCED;
}
