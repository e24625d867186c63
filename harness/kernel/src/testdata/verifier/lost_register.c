// What clj-ebpf programs do by hand: keep data_end in r3 across a helper call, which clobbers
// r1-r5, and read it after.
asm(".section xdp,\"ax\",@progbits\n"
    ".globl prog\n.type prog,@function\n"
    "prog:\n"
    "  r3 = *(u32 *)(r1 + 4)\n"
    "  call 5\n"
    "  r0 = r3\n"
    "  exit\n"
    ".size prog, .-prog\n");
char LICENSE[] __attribute__((section("license"), used)) = "GPL";
