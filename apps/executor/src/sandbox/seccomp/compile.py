"""Compiles the sandbox's seccomp policy (policy.json, kept in the repository) into a BPF program.

Usage: python3 -I compile.py POLICY.json OUT.bpf
Prints one JSON line: {"arch", "allowed", "conditional", "errno", "enosysNumbers", "skipped", "bytes"}.

The filter is built with libseccomp (Debian's python3-seccomp), never by hand: libseccomp resolves
syscall names per architecture, checks the architecture of every call (other ABIs get the bad-arch
action, so the i386 `int 0x80` and x32 entry points cannot bypass it) and emits the BPF that bwrap
loads with `--seccomp FD` right before it executes the session's program.
"""
import errno
import json
import os
import sys

import seccomp

OPS = {
    "EQ": seccomp.EQ,
    "NE": seccomp.NE,
    "LT": seccomp.LT,
    "LE": seccomp.LE,
    "GT": seccomp.GT,
    "GE": seccomp.GE,
    "MASKED_EQ": seccomp.MASKED_EQ,
}
ACTIONS = {"KILL_PROCESS": seccomp.KILL_PROCESS, "KILL": seccomp.KILL}


def errno_of(name):
    value = getattr(errno, name, None)
    if not isinstance(value, int):
        raise SystemExit(f"unknown errno {name!r}")
    return value


def native_nr(name):
    """Syscall number on this architecture, or None when the name does not exist here."""
    try:
        nr = seccomp.resolve_syscall(seccomp.Arch.NATIVE, name)
    except (ValueError, RuntimeError):
        return None
    return nr if isinstance(nr, int) and nr >= 0 else None


def known_name(nr):
    try:
        name = seccomp.resolve_syscall(seccomp.Arch.NATIVE, nr)
    except (ValueError, RuntimeError):
        return None
    return name or None


def arg(spec):
    op = OPS[spec["op"]]
    if spec["op"] == "MASKED_EQ":
        return seccomp.Arg(spec["index"], op, spec["mask"], spec["value"])
    return seccomp.Arg(spec["index"], op, spec["value"])


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: compile.py POLICY.json OUT.bpf")
    with open(sys.argv[1], encoding="utf-8") as f:
        policy = json.load(f)

    f = seccomp.SyscallFilter(seccomp.ERRNO(errno_of(policy["defaultErrno"])))
    f.set_attr(seccomp.Attr.ACT_BADARCH, ACTIONS[policy["badArch"]])
    # no_new_privs is set by bwrap itself; keep libseccomp from touching it.
    f.set_attr(seccomp.Attr.CTL_NNP, 0)
    try:
        f.set_attr(seccomp.Attr.CTL_OPTIMIZE, 2)  # binary search tree: cost independent of the rule count
    except (AttributeError, ValueError, RuntimeError, OSError):
        pass

    denied = set()
    for group in policy["deny"]:
        denied.update(group["names"])
    allowed = set()
    skipped = []

    for name in policy["allow"]:
        if name in denied:
            raise SystemExit(f"{name} is both allowed and denied")
        if native_nr(name) is None:
            skipped.append(name)
            continue
        f.add_rule(seccomp.ALLOW, name)
        allowed.add(name)

    conditional = 0
    for rule in policy["allowIf"]:
        name = rule["name"]
        if name in denied or name in allowed:
            raise SystemExit(f"{name}: conditional rule for a syscall that is also denied or allowed")
        if native_nr(name) is None:
            skipped.append(name)
            continue
        for args in rule["anyOf"]:
            f.add_rule(seccomp.ALLOW, name, *[arg(a) for a in args])
            conditional += 1

    errno_rules = 0
    named = set(allowed)
    for group in policy["errno"]:
        code = errno_of(group["errno"])
        for name in group["names"]:
            if name in allowed:
                raise SystemExit(f"{name} is both allowed and given an errno")
            if native_nr(name) is None:
                skipped.append(name)
                continue
            f.add_rule(seccomp.ERRNO(code), name)
            named.add(name)
            errno_rules += 1

    # Syscalls newer than this libseccomp (it cannot name them) get ENOSYS, as a kernel without them
    # would answer: programs then take their fallback path instead of failing on EPERM.
    enosys = []
    code = errno_of("ENOSYS")
    for nr in range(policy["enosysUnnamedBelow"]):
        if known_name(nr) is None:
            f.add_rule(seccomp.ERRNO(code), nr)
            enosys.append(nr)

    with open(sys.argv[2], "wb") as out:
        f.export_bpf(out)
    print(
        json.dumps(
            {
                "arch": str(seccomp.system_arch()),
                "allowed": len(allowed),
                "conditional": conditional,
                "errno": errno_rules,
                "enosysNumbers": len(enosys),
                "skipped": sorted(set(skipped)),
                "bytes": os.path.getsize(sys.argv[2]),
            }
        )
    )


if __name__ == "__main__":
    main()
