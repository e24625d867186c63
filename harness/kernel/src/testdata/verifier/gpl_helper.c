// A GPL-only helper (bpf_printk is bpf_trace_printk) under the license "MIT", or LICENSE_TEXT.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#ifndef LICENSE_TEXT
#define LICENSE_TEXT "MIT"
#endif
SEC("xdp") int prog(struct xdp_md *ctx) { bpf_printk("hi"); return XDP_PASS; }
char LICENSE[] SEC("license") = LICENSE_TEXT;
