// Reads below the 512-byte stack (clang refuses a C array that large, so by hand).
asm(".section xdp,\"ax\",@progbits\n.globl prog\n.type prog,@function\nprog:\n"
    "  r0 = *(u64 *)(r10 - 520)\n  r0 = 2\n  exit\n.size prog, .-prog\n");
char LICENSE[] __attribute__((section("license"), used)) = "GPL";
