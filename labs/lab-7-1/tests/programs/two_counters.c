/* Lab 7.1's filter.c with its counter map renamed `counters`, next to a second map of the same
 * layout, `spare`: no map is named `stats`, and two fit its role, so the harness cannot tell
 * which one is meant. */
#define stats counters
#include "filter.c"
#undef stats

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} spare SEC(".maps");
