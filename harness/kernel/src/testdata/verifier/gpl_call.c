// Calls helper number HELPER (no arguments set: the license check comes first) under the
// license LICENSE_TEXT, or with no license section when NO_LICENSE is defined.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
static long (*helper)(void) = (void *)HELPER;
SEC("xdp") int prog(struct xdp_md *ctx) { helper(); return XDP_PASS; }
SEC("xdp") int clean(struct xdp_md *ctx) { return XDP_PASS; }
#ifndef NO_LICENSE
char LICENSE[] SEC("license") = LICENSE_TEXT;
#endif
