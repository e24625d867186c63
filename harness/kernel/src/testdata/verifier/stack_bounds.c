// Writes below the 512-byte stack (clang refuses a C array that large, so by hand).
asm(".section xdp,\"ax\",@progbits\n"
    ".globl prog\n.type prog,@function\n"
    "prog:\n"
    "  r1 = 0\n"
    "  *(u64 *)(r10 - 520) = r1\n"
    "  r0 = 2\n"
    "  exit\n"
    ".size prog, .-prog\n");
char LICENSE[] __attribute__((section("license"), used)) = "GPL";
