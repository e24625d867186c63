// SPDX-License-Identifier: GPL-2.0
/*
 * Lab 7.2 in C, as a student would write it: XDP programs rate_limiter, syn_guard, ddos_guard
 * and syn_cookie sharing the map `stats` (ARRAY here; the Rust reference uses PERCPU_ARRAY) and
 * the HASH `blacklist` (u8 values here, u32 in the reference). Same contract as
 * ebpf/programs/src/bin/lab-7-2.rs, written differently on purpose: whole tokens refilled per
 * elapsed millisecond, plain HASH maps.
 *
 *   clang -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu -c ddos.c -o ddos.o
 *
 * Defining one of these turns the file into a mutant with one realistic mistake:
 *
 *   BUG_NO_REFILL            the token bucket never refills
 *   BUG_CAPACITY_X10         the bucket holds 10000 tokens, not 1000
 *   BUG_GLOBAL_BUCKET        one bucket for every source (key 0)
 *   BUG_RATE_KEY_DST         rate_limiter keeps a bucket per destination, not per source
 *   BUG_SYN_KEY_PORT         syn_guard keeps a window per source and destination port
 *   BUG_SYNACK_AS_SYN        SYN-ACKs count as SYNs (only the SYN bit is tested)
 *   BUG_WINDOW_NEVER_RESETS  a source's SYN window never ends
 *   BUG_SYN_OFF_BY_ONE       99 SYNs per window pass, not 100 (>= where > was meant)
 *   BUG_BLACKLIST_HOST_ORDER the blocklist is looked up with the source in host byte order
 *   BUG_RATE_BEFORE_BLOCKLIST ddos_guard takes a token before looking at the blocklist
 *   BUG_RATE_DROP_IN_WINDOW  ddos_guard counts a SYN in the window before the rate limit
 *   BUG_SYNACK_NO_TCP_CSUM   the SYN-ACK's TCP checksum is not recomputed
 *   BUG_ACK_EQUALS_SEQ       the SYN-ACK's ack is the client's seq, not seq + 1
 *   BUG_NO_TRIM              the SYN-ACK keeps the SYN's length (options and all)
 *   BUG_ACCEPT_ANY_ACK       every bare ACK passes, cookie or not
 *   BUG_ECHO_SYN             syn_cookie sends the SYN back unchanged
 *   BUG_CONSTANT_COOKIE      the SYN-ACK's seq is 0, not the kernel's cookie
 *   BUG_CLOCK_RESET          the bucket's clock restarts on every packet (time short of a token
 *                            is lost, so a steady stream refills nothing)
 *   BUG_REFILL_WHEN_EMPTY    the bucket refills only once it is empty (an idle half-full bucket
 *                            then overflows its capacity)
 *   BUG_WINDOW_WALL_CLOCK    SYN windows are whole seconds of the clock, not 1 s from the first SYN
 *   BUG_WINDOW_SLIDES        every SYN in a window restarts it
 *   BUG_TOKEN_REFUND         ddos_guard gives the token back when the window drops a SYN
 *   BUG_WINDOW_COUNTS_ALL_TCP syn_guard counts every TCP segment in the window (drops only SYNs)
 *   BUG_KEY_LAST_OCTET       buckets and windows are keyed on the source's last octet
 *   BUG_IHL_CHECK_FIRST      rate_limiter passes IPv4 packets with IHL < 5 without a token
 *   BUG_FRAGMENTS_READ_AS_TCP fragments past offset 0 are parsed as if a TCP header started them
 *   BUG_SYN_EXCLUDES_FIN_RST SYN|FIN and SYN|RST are not counted as SYNs
 *   BUG_BARE_ACK_BY_FRAME_END syn_cookie finds payload by the frame's end (Ethernet padding counts)
 *   BUG_BARE_ACK_EXACT_FLAGS syn_cookie takes only a flags byte of exactly ACK as a bare ACK
 *   BUG_ACK_IHL_5_ONLY       syn_cookie checks cookies only in ACKs without IPv4 options
 *   BUG_SYN_DATA_PASSES      syn_cookie passes SYNs that carry data instead of answering them
 *   BUG_TRIM_BY_TOT_LEN      the SYN-ACK's size is computed from the IPv4 total length, not the
 *                            frame's (a padded SYN's reply keeps 6 bytes of padding)
 *   BUG_PERCPU_STATE         per-source state in PERCPU_HASH maps: a source's bucket per CPU
 *   BUG_OVER_LIMIT_TX        rate_limiter sends frames over the limit back (XDP_TX), not DROP
 *   BUG_OVER_LIMIT_ABORTED   rate_limiter answers frames over the limit with XDP_ABORTED
 *   BUG_NO_CAP               the bucket has no cap: left idle it fills beyond 1000 tokens
 *   BUG_KEY_LAST_3_OCTETS    buckets are keyed on the source's last three octets
 *   BUG_DF_AS_FRAGMENT       the fragment offset is read without byte order: DF reads as one
 *   BUG_FIRST_FRAGMENT_SKIPPED first fragments (MF set, offset 0) are taken as headerless
 *   BUG_IPV4_ONE_MORE        the IPv4 header test wants one byte past the header (`>=`)
 *   BUG_TCP_ONE_MORE         the TCP header test wants one byte past the header (`>=`)
 *   BUG_SYN_GUARD_DROPS_NON_IPV4 syn_guard drops non-IPv4 frames
 *   BUG_FOLD_ONCE            syn_cookie folds its checksums' carries once, not twice
 *   BUG_OPTIONS_40           syn_cookie copies at most 40 bytes of the SYN's TCP header
 *   BUG_COOKIE_EXACT_SYN     syn_cookie answers only a flags byte of exactly SYN (not SYN|ECE|CWR)
 *   BUG_BARE_ACK_PSH_ONLY    syn_cookie's bare ACK is ACK or ACK|PSH exactly (ACK|ECE passes unchecked)
 *   BUG_BARE_ACK_DOFF5       syn_cookie's bare ACK has total length IHL*4 + 20 (TCP options read as
 *                            payload)
 *   BUG_FRAGMENTS_FREE       rate_limiter passes fragments past offset 0 without taking a token
 *   BUG_WINDOW_ANY_SEGMENT   syn_guard opens (or renews an expired) window on any TCP segment,
 *                            not only on a SYN
 *   BUG_SHARED_STATE         ddos_guard keeps its buckets and windows in rate_limiter's and
 *                            syn_guard's maps
 *   BUG_NONATOMIC_STATS      stats entries are bumped with a plain `+= 1` on the ARRAY, not an
 *                            atomic add (two CPUs at once lose counts)
 *   BUG_WINDOW_2POW30        the SYN window is 2^30 ns (1.074 s), a shift standing in for a second
 *
 * Correct variants, in other styles (they must pass everything):
 *
 *   SPLIT_STATE              rate_limiter keeps a source's tokens and its clock in two HASH maps
 *                            (two entries per source, one source's state)
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

/* Dodges, for the tests that check no dodge earns an exemption: XDP_SECTION="xdp/devmap" builds
 * programs an interface cannot run; SLOW_LOOPS=N makes every frame cost N bpf_loop rounds. */
#ifndef XDP_SECTION
#define XDP_SECTION "xdp"
#endif
#ifdef SLOW_LOOPS
static long burn(__u64 i, void *ctx) { return 0; }
#define BURN() bpf_loop(SLOW_LOOPS, burn, NULL, 0)
#else
#define BURN()
#endif

char LICENSE[] SEC("license") = "GPL";

#ifdef BUG_CAPACITY_X10
#define CAPACITY 10000
#else
#define CAPACITY 1000
#endif
#if defined(BUG_OVER_LIMIT_TX)
#define OVER_LIMIT XDP_TX
#elif defined(BUG_OVER_LIMIT_ABORTED)
#define OVER_LIMIT XDP_ABORTED
#else
#define OVER_LIMIT XDP_DROP
#endif
#define NS_PER_TOKEN 1000000ULL
#ifdef BUG_WINDOW_2POW30
#define WINDOW_NS (1ULL << 30)
#else
#define WINDOW_NS 1000000000ULL
#endif
#define SYN_LIMIT 100

#ifndef STATS_ENTRIES
#define STATS_ENTRIES 5
#endif

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, STATS_ENTRIES);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} blacklist SEC(".maps");

struct bucket {
	__u64 tokens;
	__u64 last; /* time up to which tokens were credited */
};

struct window {
	__u64 start;
	__u64 syns;
};

#ifdef BUG_PERCPU_STATE
#define PER_SOURCE_TYPE BPF_MAP_TYPE_PERCPU_HASH
#else
#define PER_SOURCE_TYPE BPF_MAP_TYPE_HASH
#endif
#define PER_SOURCE(name, value_type)                       \
	struct {                                           \
		__uint(type, PER_SOURCE_TYPE);             \
		__uint(max_entries, 65536);                \
		__type(key, __u32);                        \
		__type(value, value_type);                 \
	} name SEC(".maps")

PER_SOURCE(rl_buckets, struct bucket);
PER_SOURCE(sg_windows, struct window);
PER_SOURCE(dg_buckets, struct bucket);
PER_SOURCE(dg_windows, struct window);
#ifdef BUG_SHARED_STATE
#define dg_buckets rl_buckets
#define dg_windows sg_windows
#endif
#ifdef SPLIT_STATE
PER_SOURCE(rl_tokens, __u64);
PER_SOURCE(rl_clock, __u64);
#endif

static __always_inline int count(__u32 bucket, int action)
{
	__u64 *n = bpf_map_lookup_elem(&stats, &bucket);

#ifdef BUG_NONATOMIC_STATS
	if (n)
		*n += 1;
#else
	if (n)
		__sync_fetch_and_add(n, 1);
#endif
	return action;
}

static __always_inline struct iphdr *parse_ipv4(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);

#ifdef BUG_IPV4_ONE_MORE
	if ((void *)(ip + 1) >= data_end || eth->h_proto != bpf_htons(ETH_P_IP))
#else
	if ((void *)(ip + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
#endif
		return NULL;
	return ip;
}

/* The TCP header when the protocol is TCP, IHL >= 5 and all 20 bytes are there. */
static __always_inline struct tcphdr *parse_tcp(struct xdp_md *ctx, struct iphdr *ip)
{
	void *data_end = (void *)(long)ctx->data_end;
	struct tcphdr *tcp;

	if (ip->protocol != IPPROTO_TCP || ip->ihl < 5)
		return NULL;
#if defined(BUG_DF_AS_FRAGMENT)
	if (ip->frag_off & 0x1fff)
		return NULL;
#elif defined(BUG_FIRST_FRAGMENT_SKIPPED)
	if (ip->frag_off & bpf_htons(0x3fff))
		return NULL;
#elif !defined(BUG_FRAGMENTS_READ_AS_TCP)
	/* Past offset 0 a fragment holds the middle of a payload, no header. */
	if (ip->frag_off & bpf_htons(0x1fff))
		return NULL;
#endif
	tcp = (void *)ip + ip->ihl * 4;
#ifdef BUG_TCP_ONE_MORE
	if ((void *)(tcp + 1) >= data_end)
#else
	if ((void *)(tcp + 1) > data_end)
#endif
		return NULL;
	return tcp;
}

static __always_inline int is_syn(struct tcphdr *tcp)
{
#ifdef BUG_SYNACK_AS_SYN
	return tcp->syn;
#elif defined(BUG_SYN_EXCLUDES_FIN_RST)
	return tcp->syn && !tcp->ack && !tcp->fin && !tcp->rst;
#else
	return tcp->syn && !tcp->ack;
#endif
}

static __always_inline int take_token(void *map, __u32 src)
{
	__u64 now = bpf_ktime_get_ns();
	struct bucket *b;

#ifdef BUG_GLOBAL_BUCKET
	src = 0;
#endif
#ifdef BUG_KEY_LAST_OCTET
	src >>= 24;
#endif
#ifdef BUG_KEY_LAST_3_OCTETS
	src >>= 8;
#endif
	b = bpf_map_lookup_elem(map, &src);
	if (!b) {
		struct bucket fresh = { .tokens = CAPACITY - 1, .last = now };

		bpf_map_update_elem(map, &src, &fresh, BPF_ANY);
		return 1;
	}
#ifdef BUG_CLOCK_RESET
	b->tokens += (now - b->last) / NS_PER_TOKEN;
	b->last = now;
	if (b->tokens > CAPACITY)
		b->tokens = CAPACITY;
#elif !defined(BUG_NO_REFILL)
	__u64 earned = (now - b->last) / NS_PER_TOKEN;

#ifdef BUG_REFILL_WHEN_EMPTY
	if (earned && b->tokens == 0) {
#else
	if (earned) {
#endif
		b->last += earned * NS_PER_TOKEN;
		b->tokens += earned;
#ifndef BUG_NO_CAP
		if (b->tokens > CAPACITY)
			b->tokens = CAPACITY;
#endif
	}
#endif
	if (b->tokens == 0)
		return 0;
	b->tokens--;
	return 1;
}

#ifdef SPLIT_STATE
/* take_token with the bucket's two fields in two maps keyed by source. */
static __always_inline int take_split_token(__u32 src)
{
	__u64 now = bpf_ktime_get_ns();
	__u64 *tokens = bpf_map_lookup_elem(&rl_tokens, &src);
	__u64 *last = bpf_map_lookup_elem(&rl_clock, &src);

	if (!tokens || !last) {
		__u64 full = CAPACITY - 1;

		bpf_map_update_elem(&rl_tokens, &src, &full, BPF_ANY);
		bpf_map_update_elem(&rl_clock, &src, &now, BPF_ANY);
		return 1;
	}
	__u64 earned = (now - *last) / NS_PER_TOKEN;

	if (earned) {
		*last += earned * NS_PER_TOKEN;
		*tokens += earned;
		if (*tokens > CAPACITY)
			*tokens = CAPACITY;
	}
	if (*tokens == 0)
		return 0;
	(*tokens)--;
	return 1;
}
#endif

/* For BUG_TOKEN_REFUND: puts back the token a packet took. */
static __always_inline void give_token(void *map, __u32 src)
{
	struct bucket *b = bpf_map_lookup_elem(map, &src);

	if (b && b->tokens < CAPACITY)
		b->tokens++;
}

static __always_inline int syn_allowed(void *map, __u32 src)
{
	__u64 now = bpf_ktime_get_ns();
	struct window *w;

#ifdef BUG_KEY_LAST_OCTET
	src >>= 24;
#endif
	w = bpf_map_lookup_elem(map, &src);
#ifdef BUG_WINDOW_NEVER_RESETS
	if (w) {
#elif defined(BUG_WINDOW_WALL_CLOCK)
	if (w && now / WINDOW_NS == w->start / WINDOW_NS) {
#else
	if (w && now - w->start < WINDOW_NS) {
#endif
#ifdef BUG_WINDOW_SLIDES
		w->start = now;
#endif
		w->syns++;
#ifdef BUG_SYN_OFF_BY_ONE
		return w->syns < SYN_LIMIT;
#else
		return w->syns <= SYN_LIMIT;
#endif
	}
	struct window fresh = { .start = now, .syns = 1 };

	bpf_map_update_elem(map, &src, &fresh, BPF_ANY);
	return 1;
}

#ifdef BUG_WINDOW_ANY_SEGMENT
/* Opens a window with no SYNs counted yet when there is none or it has expired. */
static __always_inline void roll_window(void *map, __u32 src)
{
	__u64 now = bpf_ktime_get_ns();
	struct window *w = bpf_map_lookup_elem(map, &src);

	if (!w || now - w->start >= WINDOW_NS) {
		struct window fresh = { .start = now, .syns = 0 };

		bpf_map_update_elem(map, &src, &fresh, BPF_ANY);
	}
}
#endif

SEC(XDP_SECTION)
int rate_limiter(struct xdp_md *ctx)
{
	BURN();
	struct iphdr *ip = parse_ipv4(ctx);

	if (!ip)
		return count(1, XDP_PASS);
#ifdef BUG_IHL_CHECK_FIRST
	if (ip->ihl < 5)
		return count(1, XDP_PASS);
#endif
#ifdef BUG_FRAGMENTS_FREE
	if (ip->frag_off & bpf_htons(0x1fff))
		return count(1, XDP_PASS);
#endif
#ifdef BUG_RATE_KEY_DST
	if (!take_token(&rl_buckets, ip->daddr))
#elif defined(SPLIT_STATE)
	if (!take_split_token(ip->saddr))
#else
	if (!take_token(&rl_buckets, ip->saddr))
#endif
		return count(0, OVER_LIMIT);
	return count(1, XDP_PASS);
}

SEC(XDP_SECTION)
int syn_guard(struct xdp_md *ctx)
{
	BURN();
	struct iphdr *ip = parse_ipv4(ctx);
	struct tcphdr *tcp;

	if (!ip)
#ifdef BUG_SYN_GUARD_DROPS_NON_IPV4
		return count(1, XDP_DROP);
#else
		return count(1, XDP_PASS);
#endif
	tcp = parse_tcp(ctx, ip);
#ifdef BUG_WINDOW_ANY_SEGMENT
	if (tcp && !is_syn(tcp))
		roll_window(&sg_windows, ip->saddr);
#endif
#ifdef BUG_WINDOW_COUNTS_ALL_TCP
	if (tcp) {
		int allowed = syn_allowed(&sg_windows, ip->saddr);

		if (is_syn(tcp) && !allowed)
			return count(0, XDP_DROP);
	}
	return count(1, XDP_PASS);
#endif
#ifdef BUG_SYN_KEY_PORT
	if (tcp && is_syn(tcp) && !syn_allowed(&sg_windows, ip->saddr ^ tcp->dest))
#else
	if (tcp && is_syn(tcp) && !syn_allowed(&sg_windows, ip->saddr))
#endif
		return count(0, XDP_DROP);
	return count(1, XDP_PASS);
}

SEC(XDP_SECTION)
int ddos_guard(struct xdp_md *ctx)
{
	BURN();
	struct iphdr *ip = parse_ipv4(ctx);
	struct tcphdr *tcp;
	__u32 key;

	if (!ip)
		return XDP_PASS;
	count(0, 0);
	tcp = parse_tcp(ctx, ip);
#ifdef BUG_RATE_DROP_IN_WINDOW
	if (tcp && is_syn(tcp) && !syn_allowed(&dg_windows, ip->saddr)) {
		if (!take_token(&dg_buckets, ip->saddr))
			return count(2, XDP_DROP);
		return count(3, XDP_DROP);
	}
#endif
#ifdef BUG_RATE_BEFORE_BLOCKLIST
	if (!take_token(&dg_buckets, ip->saddr))
		return count(2, XDP_DROP);
#endif
#ifdef BUG_BLACKLIST_HOST_ORDER
	key = bpf_ntohl(ip->saddr);
#else
	key = ip->saddr;
#endif
	if (bpf_map_lookup_elem(&blacklist, &key))
		return count(4, XDP_DROP);
#ifndef BUG_RATE_BEFORE_BLOCKLIST
	if (!take_token(&dg_buckets, ip->saddr))
		return count(2, XDP_DROP);
#endif
#ifndef BUG_RATE_DROP_IN_WINDOW
	if (tcp && is_syn(tcp) && !syn_allowed(&dg_windows, ip->saddr)) {
#ifdef BUG_TOKEN_REFUND
		give_token(&dg_buckets, ip->saddr);
#endif
		return count(3, XDP_DROP);
	}
#endif
	return count(1, XDP_PASS);
}

static __always_inline __u32 sum16(const void *p, int bytes)
{
	const __u16 *w = p;
	__u32 sum = 0;

	for (int i = 0; i < bytes / 2; i++)
		sum += w[i];
	return sum;
}

static __always_inline __u16 fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
#ifndef BUG_FOLD_ONCE
	sum = (sum & 0xffff) + (sum >> 16);
#endif
	return ~sum;
}

#define SYNACK_LEN (sizeof(struct ethhdr) + sizeof(struct iphdr) + sizeof(struct tcphdr) + 4)

static __always_inline int syn_ack(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct tcphdr *tcp = (void *)(ip + 1);
	__u8 th[60] = {};
	__u8 *p = (void *)tcp;
	__u32 len, i;

	if ((void *)(tcp + 1) > data_end)
		return XDP_PASS;
	len = tcp->doff * 4;
	if (len < sizeof(*tcp))
		return XDP_PASS;
	/* Copy the header with its options: the helper wants a buffer of known size. */
	for (i = 0; i < sizeof(th); i++) {
#ifdef BUG_OPTIONS_40
		if (i >= len || i >= 40)
#else
		if (i >= len)
#endif
			break;
		if ((void *)(p + i + 1) > data_end)
			return XDP_PASS;
		th[i] = p[i];
	}
	__s64 value = bpf_tcp_raw_gen_syncookie_ipv4(ip, (void *)th, len & 0x3c);

	if (value < 0)
		return XDP_PASS;
	__u32 cookie = (__u32)value;
	__u16 mss = value >> 32;
	struct tcphdr *client = (void *)th;
	__u32 client_seq = bpf_ntohl(client->seq);
	__u8 mac[ETH_ALEN];
	__be32 saddr = ip->saddr, daddr = ip->daddr;

	__builtin_memcpy(mac, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, mac, ETH_ALEN);

#ifdef BUG_TRIM_BY_TOT_LEN
	int delta = (int)SYNACK_LEN - (int)(sizeof(*eth) + bpf_ntohs(ip->tot_len));
#else
	int delta = (int)SYNACK_LEN - (int)(data_end - data);
#endif
#ifdef BUG_NO_TRIM
	if (delta < 0)
		delta = 0;
#endif
	if (delta && bpf_xdp_adjust_tail(ctx, delta))
		return XDP_PASS;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	ip = data + sizeof(struct ethhdr);
	tcp = (void *)(ip + 1);
	if ((void *)tcp + sizeof(*tcp) + 4 > data_end)
		return XDP_PASS;

	ip->saddr = daddr;
	ip->daddr = saddr;
	ip->tot_len = bpf_htons(sizeof(*ip) + sizeof(*tcp) + 4);
	ip->ttl = 64;
	ip->check = 0;
	ip->check = fold(sum16(ip, sizeof(*ip)));

	__be16 sport = client->source;
	__be16 dport = client->dest;
	__u8 *opts = (void *)(tcp + 1);

	__builtin_memset(tcp, 0, sizeof(*tcp));
	tcp->source = dport;
	tcp->dest = sport;
#ifdef BUG_CONSTANT_COOKIE
	tcp->seq = 0;
#else
	tcp->seq = bpf_htonl(cookie);
#endif
#ifdef BUG_ACK_EQUALS_SEQ
	tcp->ack_seq = bpf_htonl(client_seq);
#else
	tcp->ack_seq = bpf_htonl(client_seq + 1);
#endif
	tcp->doff = (sizeof(*tcp) + 4) / 4;
	tcp->syn = 1;
	tcp->ack = 1;
	tcp->window = bpf_htons(29200);
	opts[0] = 2;
	opts[1] = 4;
	opts[2] = mss >> 8;
	opts[3] = mss & 0xff;
#ifndef BUG_SYNACK_NO_TCP_CSUM
	__u32 sum = (daddr >> 16) + (daddr & 0xffff) + (saddr >> 16) + (saddr & 0xffff) +
		    bpf_htons(IPPROTO_TCP) + bpf_htons(sizeof(*tcp) + 4);
	tcp->check = fold(sum + sum16(tcp, sizeof(*tcp) + 4));
#endif
	return count(0, XDP_TX);
}

SEC(XDP_SECTION)
int syn_cookie(struct xdp_md *ctx)
{
	BURN();
	struct iphdr *ip = parse_ipv4(ctx);
	struct tcphdr *tcp;

	if (!ip)
		return XDP_PASS;
	tcp = parse_tcp(ctx, ip);
	if (!tcp)
		return XDP_PASS;
#ifdef BUG_ECHO_SYN
	/* Sends the SYN back as it came: valid checksums, but no answer to it. */
	if (tcp->syn && !tcp->ack)
		return ip->ihl == 5 ? count(0, XDP_TX) : XDP_PASS;
#endif
#ifdef BUG_SYN_DATA_PASSES
	if (tcp->syn && !tcp->ack && bpf_ntohs(ip->tot_len) != ip->ihl * 4 + tcp->doff * 4)
		return XDP_PASS;
#endif
#ifdef BUG_COOKIE_EXACT_SYN
	if (((__u8 *)tcp)[13] == 0x02)
		return ip->ihl == 5 ? syn_ack(ctx) : XDP_PASS;
	if (tcp->syn && !tcp->ack)
		return XDP_PASS;
#endif
	if (tcp->syn && !tcp->ack)
		return ip->ihl == 5 ? syn_ack(ctx) : XDP_PASS;
#ifdef BUG_BARE_ACK_PSH_ONLY
	if ((((__u8 *)tcp)[13] & ~0x08) != 0x10)
		return XDP_PASS;
#endif
#ifdef BUG_BARE_ACK_DOFF5
	if (bpf_ntohs(ip->tot_len) != ip->ihl * 4 + 20)
		return XDP_PASS;
#endif
#ifdef BUG_ACK_IHL_5_ONLY
	if (ip->ihl != 5)
		return XDP_PASS;
#endif
#ifdef BUG_BARE_ACK_EXACT_FLAGS
	if (((__u8 *)tcp)[13] != 0x10)
		return XDP_PASS;
#endif
#ifdef BUG_BARE_ACK_BY_FRAME_END
	if (!tcp->ack || tcp->syn || tcp->rst || tcp->fin ||
	    (void *)tcp + tcp->doff * 4 != (void *)(long)ctx->data_end)
		return XDP_PASS;
#else
	if (!tcp->ack || tcp->syn || tcp->rst || tcp->fin ||
	    bpf_ntohs(ip->tot_len) != ip->ihl * 4 + tcp->doff * 4)
		return XDP_PASS;
#endif
#ifdef BUG_ACCEPT_ANY_ACK
	return count(1, XDP_PASS);
#else
	if (bpf_tcp_raw_check_syncookie_ipv4(ip, tcp) == 0)
		return count(1, XDP_PASS);
	return count(2, XDP_DROP);
#endif
}
