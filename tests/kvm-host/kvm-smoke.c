/* kvm-smoke: proves that /dev/kvm really runs guest code.
 *
 * Creates a VM with one page of RAM and one vCPU in real mode, runs
 *     mov $0x3f8,%dx; mov $2,%al; add $3,%al; add $'0',%al; out %al,(%dx);
 *     mov $'\n',%al; out %al,(%dx); hlt
 * and checks that KVM_RUN reports the two port writes ("5\n") and then
 * KVM_EXIT_HLT. Prints "kvm-smoke: ok" and exits 0 on success.
 * Build: cc -O2 -o kvm-smoke kvm-smoke.c (used by tests/e2e/00-kvm-host.sh). */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

static void fail(const char *fmt, ...)
{
	va_list ap;
	int e = errno;
	va_start(ap, fmt);
	fputs("kvm-smoke: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (e)
		fprintf(stderr, ": %s", strerror(e));
	fputc('\n', stderr);
	exit(1);
}

int main(void)
{
	static const unsigned char code[] = {
		0xba, 0xf8, 0x03, /* mov $0x3f8,%dx */
		0xb0, 0x02,       /* mov $2,%al */
		0x04, 0x03,       /* add $3,%al */
		0x04, '0',        /* add $'0',%al */
		0xee,             /* out %al,(%dx) */
		0xb0, '\n',       /* mov $'\n',%al */
		0xee,             /* out %al,(%dx) */
		0xf4,             /* hlt */
	};
	struct kvm_userspace_memory_region region;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_run *run;
	char out[16];
	size_t nout = 0;
	int kvm, vm, vcpu, ret, i;
	long mmap_size;
	unsigned char *mem;

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		fail("open /dev/kvm");
	ret = ioctl(kvm, KVM_GET_API_VERSION, 0);
	if (ret != KVM_API_VERSION)
		fail("KVM_GET_API_VERSION returned %d", ret);
	vm = ioctl(kvm, KVM_CREATE_VM, 0UL);
	if (vm < 0)
		fail("KVM_CREATE_VM");

	mem = mmap(NULL, 0x1000, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		fail("mmap");
	memcpy(mem, code, sizeof code);
	memset(&region, 0, sizeof region);
	region.guest_phys_addr = 0x1000;
	region.memory_size = 0x1000;
	region.userspace_addr = (unsigned long)mem;
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		fail("KVM_SET_USER_MEMORY_REGION");

	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0UL);
	if (vcpu < 0)
		fail("KVM_CREATE_VCPU");
	mmap_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, NULL);
	if (mmap_size < (long)sizeof *run)
		fail("KVM_GET_VCPU_MMAP_SIZE");
	run = mmap(NULL, mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		fail("mmap vcpu");

	if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
		fail("KVM_GET_SREGS");
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
		fail("KVM_SET_SREGS");
	memset(&regs, 0, sizeof regs);
	regs.rip = 0x1000;
	regs.rflags = 0x2;
	if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
		fail("KVM_SET_REGS");

	for (i = 0; i < 16; i++) {
		if (ioctl(vcpu, KVM_RUN, NULL) < 0)
			fail("KVM_RUN");
		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			if (run->io.direction != KVM_EXIT_IO_OUT || run->io.port != 0x3f8 ||
			    run->io.size != 1 || nout >= sizeof out - 1) {
				errno = 0;
				fail("unexpected port I/O (port %#x)", run->io.port);
			}
			out[nout++] = *((char *)run + run->io.data_offset);
			break;
		case KVM_EXIT_HLT:
			out[nout] = 0;
			errno = 0;
			if (strcmp(out, "5\n") != 0)
				fail("guest wrote \"%s\", expected \"5\\n\"", out);
			printf("kvm-smoke: ok (guest computed %c and halted)\n", out[0]);
			return 0;
		default:
			errno = 0;
			fail("unexpected exit reason %u", run->exit_reason);
		}
	}
	errno = 0;
	fail("no KVM_EXIT_HLT after %d runs", i);
	return 1;
}
