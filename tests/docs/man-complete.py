#!/usr/bin/python3
"""The manual pages say everything the programs say they take.

Every command and option that `l4d2ctl --help` and each `l4d2ctl COMMAND --help` print
must appear in l4d2ctl(1) (a command's options and subcommands in that command's own
subsection, the global options under GLOBAL OPTIONS); every option and command of each
daemon's --help in its page (left4me-hostd(8), ...); every key daemon/config.c parses in
left4me.yaml(5). The pages checked are the built ones ($BUILD/man/*, roff with the font
escapes taken out), so a page that scdoc would drop or mangle does not pass either.

Then it proves it can fail: it takes one item of each kind out of the page text and
checks that the same code reports exactly that item as missing.
"""
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get("BUILD", os.path.join(ROOT, "build"))
DAEMONS = ["left4me-hostd", "left4me-jobd", "left4me-logd", "left4me-webd"]

LONG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*[a-z0-9]")
SHORT = re.compile(r"(?<![\w-])-[A-Za-z](?=[ ,\]]|$)", re.M)


def run_help(*args):
    p = subprocess.run([os.path.join(BUILD, args[0]), *args[1:], "--help"], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"FAIL: {' '.join(args)} --help exited {p.returncode}: {p.stderr.strip()}")
    return p.stdout


def options(text):
    return sorted(set(LONG.findall(text)) | set(SHORT.findall(text)))


def command_block(text):
    """The first words of each entry of a 'Commands:' block ("user create", "list")."""
    out, inside = [], False
    for line in text.splitlines():
        if line.strip() == "Commands:":
            inside = True
            continue
        if inside and not line.strip():
            inside = False
        if not inside or not re.match(r"^  \S", line):
            continue
        entry = re.split(r" {2,}", line.strip())[0]
        for part in entry.split("|"):
            m = re.match(r"\s*([a-z][a-z0-9-]*(?: [a-z][a-z0-9-]*)*)", part)
            if m:
                out.append(m.group(1))
    return out


def usage_phrases(text, prog):
    """'l4d2ctl overlay build ID ...' in a Usage line gives 'overlay build'."""
    return re.findall(rf"^(?:Usage:)? +{prog} ([a-z][a-z0-9-]*(?: [a-z][a-z0-9-]*)*)", text, re.M)


def block(text, title):
    """The lines of the block that starts with the line 'title', up to an empty line."""
    m = re.search(rf"^{re.escape(title)}\n((?:.+\n?)*)", text, re.M)
    return m.group(1) if m else ""


def page(name):
    """{section: text}: each .SH (the whole section) and each .SS, as plain text."""
    path = os.path.join(BUILD, "man", name)
    if not os.path.exists(path):
        sys.exit(f"FAIL: {path} is not built (make)")
    roff = open(path, encoding="utf-8").read()
    roff = re.sub(r"\\f[BIRP]", "", roff).replace("\\-", "-").replace("\\&", "").replace("\\(aq", "'")
    secs, sh, ss = {"": ""}, "", None
    for line in roff.splitlines():
        if line.startswith(".SH "):
            sh, ss = line[4:].strip().strip('"'), None
            secs[sh] = ""
            continue
        if line.startswith(".SS "):
            ss = line[4:].strip().strip('"')
            secs["SS " + ss] = ""
            continue
        secs[sh] += line + "\n"
        if ss is not None:
            secs["SS " + ss] += line + "\n"
    secs["*"] = "\n".join(secs.values())
    return secs


def has(text, token):
    return re.search(rf"(?<![\w-]){re.escape(token)}(?![\w-])", text) is not None


def config_keys():
    src = open(os.path.join(ROOT, "daemon", "config.c"), encoding="utf-8").read()
    return sorted(f"{s}.{k}" for s, k in re.findall(r'IS\("([a-z_]+)", "([a-z_]+)"\)', src))


def expectations():
    """[(page, section, token, where it came from)]: what the pages must contain."""
    want = []
    top = run_help("l4d2ctl")
    cmds = command_block(top)
    if len(cmds) < 15:
        sys.exit(f"FAIL: found only {len(cmds)} commands in 'l4d2ctl --help': {cmds}")
    glob = options(block(top, "Global options:"))
    if len(glob) < 8:
        sys.exit(f"FAIL: found only {glob} under 'Global options:' in 'l4d2ctl --help'")
    for o in glob:
        want.append(("l4d2ctl.1", "GLOBAL OPTIONS", o, "l4d2ctl --help"))
    for line in block(top, "Commands:").splitlines():
        c = line.split()[0]
        want.append(("l4d2ctl.1", "SS " + c, c, "l4d2ctl --help"))
        for o in options(line):
            want.append(("l4d2ctl.1", "SS " + c, o, "l4d2ctl --help"))
    for c in cmds:
        h = run_help("l4d2ctl", c)
        for o in options(h):
            want.append(("l4d2ctl.1", "SS " + c, o, f"l4d2ctl {c} --help"))
        for p in usage_phrases(h, "l4d2ctl") + [f"{c} {s}" for s in command_block(h)]:
            want.append(("l4d2ctl.1", "SS " + c, p, f"l4d2ctl {c} --help"))
    for d in DAEMONS:
        h = run_help(d)
        for o in options(h):
            want.append((d + ".8", "OPTIONS", o, f"{d} --help"))
        for c in command_block(h):
            want.append((d + ".8", "COMMANDS", c, f"{d} --help"))
    keys = config_keys()
    if len(keys) < 20:
        sys.exit(f"FAIL: found only {len(keys)} keys in daemon/config.c: {keys}")
    for k in keys:
        want.append(("left4me.yaml.5", "*", k, "daemon/config.c"))
    return want


def missing(want, pages):
    out = []
    for name, sec, token, origin in want:
        text = pages[name].get(sec)
        if text is None:
            out.append(f"{name}: no section '{sec.removeprefix('SS ')}' (for '{token}' from {origin})")
        elif not has(text, token):
            out.append(f"{name}, {sec.removeprefix('SS ')}: '{token}' (from {origin}) is not there")
    return sorted(set(out))


def main():
    want = expectations()
    pages = {n: page(n) for n in {w[0] for w in want}}
    bad = missing(want, pages)
    for b in bad:
        print("missing:", b)
    if bad:
        print(f"FAIL: {len(bad)} of {len(want)} items are not in the manual pages")
        return 1
    print(f"ok: {len(want)} items (commands, options, config keys) are in the manual pages")

    # Can it fail? Take one item of each kind out of its section's text; exactly that
    # item (and no other kind) must be reported.
    probes = [w for w in want if w[1] == "GLOBAL OPTIONS"][:1] + \
             [w for w in want if w[1] == "SS logs" and w[2].startswith("--")][:1] + \
             [w for w in want if w[1] == "SS overlay" and " " in w[2]][:1] + \
             [w for w in want if w[0] == "left4me-webd.8" and w[2] == "--web-dir"] + \
             [w for w in want if w[0] == "left4me-hostd.8" and w[1] == "COMMANDS"][:1] + \
             [w for w in want if w[0] == "left4me.yaml.5"][-1:]
    if len(probes) != 6:
        print(f"FAIL: the self-check found {len(probes)} of its 6 probes")
        return 1
    for name, sec, token, origin in probes:
        cut = {n: dict(p) for n, p in pages.items()}
        pat = rf"(?<![\w-]){re.escape(token)}(?![\w-])"
        for s in (sec, "*") if sec != "*" else ("*",):
            cut[name][s] = re.sub(pat, "", cut[name][s])
        got = missing(want, cut)
        if not got or not all(f"'{token}'" in g for g in got):
            print(f"FAIL: taking '{token}' out of {name} was reported as {got}")
            return 1
        print(f"ok: without '{token}' {name} fails: {got[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
