# Kernel-surface probe run as session code: calls each syscall with arguments that succeed (or fail
# with an errno other than EPERM/ENOSYS) in an unfiltered process, and prints one JSON object
# {"ran": true, "seccomp": <Seccomp field of /proc/self/status>, "results": {name: [ret, errno]}}.
import ctypes, ctypes.util, errno, json, os, signal, socket, struct

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
L = ctypes.c_long


def sc(nr, *args):
    ctypes.set_errno(0)
    r = libc.syscall(L(nr), *[L(a) if isinstance(a, int) else a for a in args])
    return [int(r), ctypes.get_errno() if r == -1 else 0]


def in_child(fn):
    """Runs fn() in a forked child; returns [exit status or -signal, errno-ish]."""
    rd, wr = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rd)
        try:
            res = fn()
        except BaseException as e:  # noqa
            res = [-1, -1]
        os.write(wr, json.dumps(res).encode())
        os._exit(0)
    os.close(wr)
    data = b""
    while True:
        chunk = os.read(rd, 4096)
        if not chunk:
            break
        data += chunk
    os.close(rd)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return ["signal", os.WTERMSIG(status)]
    return json.loads(data) if data else ["no-result", 0]


buf = ctypes.create_string_buffer(4096)
path = lambda s: ctypes.c_char_p(s.encode())
pid = os.getpid()
R = {}

# process inspection
R["ptrace"] = in_child(lambda: sc(101, 0, 0, 0, 0))  # PTRACE_TRACEME
iov_l = (ctypes.c_void_p * 2)(ctypes.cast(buf, ctypes.c_void_p), 16)
iov_r = (ctypes.c_void_p * 2)(ctypes.cast(buf, ctypes.c_void_p), 16)
R["process_vm_readv"] = sc(310, pid, iov_l, 1, iov_r, 1, 0)
R["process_vm_writev"] = sc(311, pid, iov_l, 1, iov_r, 1, 0)
R["kcmp"] = sc(312, pid, pid, 0, 0, 0)  # KCMP_FILE 0 vs 0
pidfd = sc(434, pid, 0)[0]  # pidfd_open (allowed)
R["pidfd_getfd"] = sc(438, pidfd, 0, 0)
iov = (ctypes.c_void_p * 2)(ctypes.cast(buf, ctypes.c_void_p), 4096)
R["process_madvise"] = sc(440, pidfd, iov, 1, 20, 0)  # MADV_COLD
# keys
R["keyctl"] = sc(250, 0, -3, 1)  # KEYCTL_GET_KEYRING_ID(session, create)
R["add_key"] = sc(248, path("user"), path("k"), path("v"), 1, -3)
R["request_key"] = sc(249, path("user"), path("nope"), None, 0)
# namespaces
R["unshare(CLONE_NEWUSER)"] = sc(272, 0x10000000)
R["unshare(CLONE_NEWNET)"] = sc(272, 0x40000000)
R["unshare(CLONE_NEWNS)"] = sc(272, 0x00020000)
R["clone(CLONE_NEWUSER)"] = in_child(lambda: (lambda r: os._exit(0) if r[0] == 0 else r)(sc(56, 0x10000000 | signal.SIGCHLD, 0, 0, 0, 0)))
R["clone(CLONE_NEWNET)"] = in_child(lambda: (lambda r: os._exit(0) if r[0] == 0 else r)(sc(56, 0x40000000 | signal.SIGCHLD, 0, 0, 0, 0)))
cl_args = (ctypes.c_uint64 * 11)(0x10000000, 0, 0, 0, signal.SIGCHLD, 0, 0, 0, 0, 0, 0)
R["clone3(CLONE_NEWUSER)"] = in_child(lambda: (lambda r: os._exit(0) if r[0] == 0 else r)(sc(435, cl_args, 88)))
uts = os.open("/proc/self/ns/uts", os.O_RDONLY)
R["setns"] = sc(308, uts, 0)
# mounts
R["mount"] = sc(165, path("none"), path("/tmp"), path("tmpfs"), 0, None)
R["umount2"] = sc(166, path("/tmp"), 2)
R["pivot_root"] = sc(155, path("."), path("."))
R["chroot"] = sc(161, path("/"))
R["open_tree"] = sc(428, -100, path("/tmp"), 0)
R["move_mount"] = sc(429, -100, path("/tmp"), -100, path("/tmp"), 0)
R["fsopen"] = sc(430, path("tmpfs"), 0)
R["fspick"] = sc(433, -100, path("/tmp"), 0)
R["mount_setattr"] = sc(442, -100, path("/tmp"), 0, buf, 32)
R["name_to_handle_at"] = sc(303, -100, path("/tmp"), buf, ctypes.byref(ctypes.c_int(0)), 0)
struct.pack_into("II", buf, 0, 8, 1)
R["open_by_handle_at"] = sc(304, -100, buf, 0)
# kernel / machine
R["bpf"] = sc(321, 0, buf, 72)  # BPF_MAP_CREATE
attr = ctypes.create_string_buffer(128)
struct.pack_into("IIIQ", attr, 0, 1, 128, 0, 0)  # PERF_TYPE_SOFTWARE, size, CPU_CLOCK
struct.pack_into("Q", attr, 40, (1 << 5) | (1 << 6))  # exclude_kernel | exclude_hv
R["perf_event_open"] = sc(298, attr, 0, -1, -1, 0)
R["userfaultfd"] = sc(323, 1)  # UFFD_USER_MODE_ONLY
params = ctypes.create_string_buffer(120)
R["io_uring_setup"] = sc(425, 1, params)
R["io_uring_enter"] = sc(426, -1, 0, 0, 0, None, 0)
R["io_uring_register"] = sc(427, -1, 0, None, 0)
R["init_module"] = sc(175, None, 0, path(""))
R["finit_module"] = sc(313, -1, path(""), 0)
R["delete_module"] = sc(176, path("nope"), 0)
R["kexec_load"] = sc(246, 0, 0, None, 0)
R["kexec_file_load"] = sc(320, -1, -1, 0, path(""), 0)
R["reboot"] = sc(169, 0xfee1dead, 672274793, 0x4321FEDC, None)  # RB_POWER_OFF
R["swapon"] = sc(167, path("/tmp/none"), 0)
R["swapoff"] = sc(168, path("/tmp/none"))
R["acct"] = sc(163, None)
R["quotactl"] = sc(179, 0x800002, path("/"), 0, None)
R["syslog"] = sc(103, 10, None, 0)  # SYSLOG_ACTION_SIZE_BUFFER
R["sethostname"] = sc(170, path("x"), 1)
R["setdomainname"] = sc(171, path("x"), 1)
R["settimeofday"] = sc(164, None, None)
R["clock_settime"] = sc(227, 0, None)
R["iopl"] = sc(172, 3)
R["ioperm"] = sc(173, 0x80, 1, 1)
R["modify_ldt"] = sc(154, 0, buf, 16)
R["vhangup"] = sc(153)
R["fanotify_init"] = sc(300, 0x200, 0)  # FAN_REPORT_FID
R["personality(READ_IMPLIES_EXEC)"] = sc(135, 0x0400000)
R["get_mempolicy"] = sc(239, None, None, 0, None, 0)
R["move_pages"] = sc(279, 0, 0, None, None, None, 0)
R["migrate_pages"] = sc(256, 0, 0, None, None)
# sockets outside the usual families
R["socket(AF_VSOCK)"] = sc(41, 40, 1, 0)
R["socket(AF_ALG)"] = sc(41, 38, 5, 0)
R["socket(AF_PACKET)"] = sc(41, 17, 3, 0)
# the x32 ABI (syscall bit 0x40000000) and the i386 ABI (int 0x80) must not bypass the filter
R["x32 getpid"] = in_child(lambda: sc(0x40000000 | 39))


def int80():
    import mmap
    code = bytes([0xB8, 20, 0, 0, 0, 0xCD, 0x80, 0xC3])  # mov eax,20 (i386 getpid); int 0x80; ret
    m = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    m.write(code)
    addr = ctypes.addressof(ctypes.c_char.from_buffer(m))
    r = ctypes.CFUNCTYPE(ctypes.c_int)(addr)()
    return [r, 0]


R["int 0x80 getpid"] = in_child(int80)

status = open("/proc/self/status").read()
seccomp = next((l.split()[1] for l in status.splitlines() if l.startswith("Seccomp:")), "?")
print(json.dumps({"ran": True, "seccomp": seccomp, "pid": pid, "results": R}))
