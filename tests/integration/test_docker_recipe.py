#!/usr/bin/env python3
"""docker/Dockerfile and docker/compose.yml, checked without a Docker engine.

No Docker engine runs on the build machines, so this test reads the recipe and does what the
image build would do, outside Docker:

  * static checks: both stages on the same debian:bookworm-slim; the build stage installs exactly
    the Makefile's APT_BUILD; apt hygiene; every package name exists; a non-root runtime user
    owning the /data volume; EXPOSE, HEALTHCHECK, ENTRYPOINT and CMD agree; compose.yml builds
    from the repository root, publishes on the host's 127.0.0.1 only and keeps the healthcheck;
    the top-level .dockerignore leaves out everything git ignores (the build context would
    otherwise carry a host build tree the test cannot mirror);
  * the build stage: the working tree as `COPY . .` would send it (git's cached and untracked,
    not ignored, files minus .dockerignore: uncommitted work included) is copied to a temporary
    directory, and the stage's `cmake` commands, taken from its RUN steps, run there with
    Docker's default PATH and nothing else in the environment;
  * CMake found nothing the build stage lacks: every program or library path in CMakeCache.txt
    belongs to a package that APT_BUILD (with its dependencies) or bookworm-slim provides;
  * the runtime stage: every library the binary needs directly (readelf NEEDED) comes from a
    package of the runtime `apt-get install` (libc6, libgcc-s1 and libstdc++6 are in
    bookworm-slim, which apt needs them for), and every library `ldd` loads from one of those
    packages, their dependencies or bookworm-slim;
  * the image's CMD, then compose.yml's command, run with the built binary (a free port for
    4566, a temporary directory for /data, as the image's uid/gid when this runs as root): the
    health endpoint answers 200 {"status":"ok"}, the socket listens on 0.0.0.0, the HEALTHCHECK
    command itself succeeds, and SIGTERM (docker stop) ends it with status 0.  When the binary's
    `serve --help` has no --preset yet, the compose command runs without `--preset workshop`
    (a note says so).

Run alone:  python3 tests/integration/test_docker_recipe.py   (TIDEPOOL_BIN is not used: the
test builds its own binary, as the image does).  TIDEPOOL_KEEP_TMP=1 keeps the temporary tree.
"""

import http.client
import json
import os
import posixpath
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402

REPO = harness.REPO
DOCKERFILE = REPO / "docker" / "Dockerfile"
COMPOSE = REPO / "docker" / "compose.yml"
DOCKERIGNORE = REPO / ".dockerignore"
MAKEFILE = REPO / "Makefile"

BASE_IMAGE = "debian:bookworm-slim"
# PATH of the debian images (and so of every RUN step and of the container).
DOCKER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# The packages of debian:bookworm-slim, from debuerreotype/docker-debian-artifacts
# bookworm/slim/rootfs.manifest (the image's own manifest; the same set on every architecture).
BOOKWORM_SLIM = frozenset("""
adduser apt base-files base-passwd bash bsdutils coreutils dash debconf debian-archive-keyring
debianutils diffutils dpkg e2fsprogs findutils gcc-12-base gpgv grep gzip hostname
init-system-helpers libacl1 libapt-pkg6.0 libattr1 libaudit-common libaudit1 libblkid1 libbz2-1.0
libc-bin libc6 libcap-ng0 libcap2 libcom-err2 libcrypt1 libdb5.3 libdebconfclient0 libext2fs2
libffi8 libgcc-s1 libgcrypt20 libgmp10 libgnutls30 libgpg-error0 libhogweed6 libidn2-0 liblz4-1
liblzma5 libmd0 libmount1 libnettle8 libp11-kit0 libpam-modules libpam-modules-bin libpam-runtime
libpam0g libpcre2-8-0 libseccomp2 libselinux1 libsemanage-common libsemanage2 libsepol2
libsmartcols1 libss2 libstdc++6 libsystemd0 libtasn1-6 libtinfo6 libudev1 libunistring2 libuuid1
libxxhash0 libzstd1 login logsave mawk mount ncurses-base ncurses-bin passwd perl-base sed
sysvinit-utils tar tzdata usr-is-merged util-linux util-linux-extra zlib1g
""".split())
# The C and C++ runtime: in bookworm-slim (apt depends on all three), so a binary may need them
# without the runtime stage naming them.
C_RUNTIME = frozenset({"libc6", "libgcc-s1", "libstdc++6"})
# Runtime packages that are there for something other than a library the binary links.
NOT_LIBRARIES = {"tzdata": "Firehose CustomTimeZone", "ca-certificates": "https hooks and endpoints",
                 "curl": "the HEALTHCHECK"}

BUILD_TIMEOUT_S = 480
START_TIMEOUT_S = 90.0  # the workshop preset generates its dataset on the first start


def note(msg):
    sys.stdout.write(f"[docker-recipe] {msg}\n")
    sys.stdout.flush()


# ---------------------------------------------------------------------------------------------
# Reading the recipe
# ---------------------------------------------------------------------------------------------
class Stage:
    def __init__(self, image, name):
        self.image = image
        self.name = name
        self.instructions = []  # (KEYWORD, arguments)

    def all(self, keyword):
        return [args for kw, args in self.instructions if kw == keyword]

    def last(self, keyword):
        found = self.all(keyword)
        return found[-1] if found else None


def parse_dockerfile(text):
    """Stages of a Dockerfile: logical lines (continuations joined, comment lines dropped as
    Docker drops them, also inside a continuation), split at FROM."""
    logical, cur = [], None
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        piece = raw.rstrip()
        cont = piece.endswith("\\")
        if cont:
            piece = piece[:-1]
        cur = piece.strip() if cur is None else cur + " " + piece.strip()
        if not cont:
            logical.append(cur)
            cur = None
    if cur is not None:
        logical.append(cur)
    stages = []
    for line in logical:
        kw, _, args = line.partition(" ")
        kw, args = kw.upper(), args.strip()
        if kw == "FROM":
            words = [w for w in args.split() if not w.startswith("--")]
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(words[0], name))
        elif not stages:
            if kw != "ARG":
                raise AssertionError(f"{kw} before the first FROM")
        else:
            stages[-1].instructions.append((kw, args))
    return stages


def shell_segments(command):
    """A RUN command split at && and ; (the recipe keeps to simple commands)."""
    return [s.strip() for s in re.split(r"&&|;", command) if s.strip()]


def apt_installs(stage):
    """[(packages, options, whole RUN command)] for each `apt-get install` of a stage."""
    out = []
    for run in stage.all("RUN"):
        for seg in shell_segments(run):
            words = shlex.split(seg)
            while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
                words.pop(0)  # DEBIAN_FRONTEND=noninteractive
            if len(words) >= 2 and words[0] == "apt-get" and "install" in words:
                rest = words[words.index("install") + 1:]
                out.append(([w for w in rest if not w.startswith("-")], [w for w in rest if w.startswith("-")], run))
    return out


def json_form(args, what):
    try:
        value = json.loads(args)
    except ValueError:
        raise AssertionError(f"{what} must be in exec (JSON) form: {args}")
    if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        raise AssertionError(f"{what} must be a JSON list of strings: {args}")
    return value


def parse_healthcheck(args):
    """(options dict, CMD as a shell string) of a HEALTHCHECK instruction."""
    opts = {}
    words = args.split()
    i = 0
    while i < len(words) and words[i].startswith("--"):
        k, _, v = words[i][2:].partition("=")
        opts[k] = v
        i += 1
    if i >= len(words) or words[i].upper() != "CMD":
        raise AssertionError(f"HEALTHCHECK without CMD: {args}")
    cmd = args.split(None, i + 1)[i + 1] if len(words) > i + 1 else ""
    if cmd.startswith("["):
        cmd = shlex.join(json_form(cmd, "HEALTHCHECK CMD"))
    return opts, cmd


def duration_s(text):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)", text or "")
    if not m:
        raise AssertionError(f"not a Docker duration: {text!r}")
    return float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def makefile_apt_build():
    text = MAKEFILE.read_text()
    m = re.search(r"^APT_BUILD\s*:?=((?:.*\\\n)*.*)$", text, re.M)
    if not m:
        raise AssertionError("Makefile has no APT_BUILD")
    return m.group(1).replace("\\\n", " ").split()


def parse_yaml_subset(text):
    """The YAML compose.yml keeps to: nested mappings, `- item` lists, JSON flow lists and
    plain or quoted scalars (no anchors, no multi-line scalars)."""
    lines = []
    for raw in text.splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        if "\t" in raw[: len(raw) - len(raw.lstrip())]:
            raise AssertionError(f"tab indentation: {raw!r}")
        lines.append((len(raw) - len(raw.lstrip(" ")), raw.strip()))

    def scalar(s):
        s = re.sub(r"\s+#.*$", "", s) if not s.startswith(("'", '"', "[")) else s
        if s.startswith("[") or s.startswith('"'):
            return json.loads(s)
        if s.startswith("'") and s.endswith("'"):
            return s[1:-1].replace("''", "'")
        return s

    def block(i, indent):
        if lines[i][1].startswith("- "):
            items = []
            while i < len(lines) and lines[i][0] == indent and lines[i][1].startswith("- "):
                items.append(scalar(lines[i][1][2:].strip()))
                i += 1
            return items, i
        mapping = {}
        while i < len(lines) and lines[i][0] == indent:
            key, sep, rest = lines[i][1].partition(":")
            if not sep:
                raise AssertionError(f"not a mapping entry: {lines[i][1]!r}")
            key, rest = key.strip(), rest.strip()
            i += 1
            if rest:
                mapping[key] = scalar(rest)
            elif i < len(lines) and lines[i][0] > indent:
                mapping[key], i = block(i, lines[i][0])
            elif i < len(lines) and lines[i][0] == indent and lines[i][1].startswith("- "):
                mapping[key], i = block(i, indent)  # a list at the key's own indentation
            else:
                mapping[key] = None
        return mapping, i

    doc, end = block(0, lines[0][0]) if lines else ({}, 0)
    if end != len(lines):
        raise AssertionError(f"compose.yml: cannot read from {lines[end][1]!r}")
    return doc


class DockerIgnore:
    """.dockerignore as BuildKit applies it (moby/patternmatcher): patterns cleaned and relative
    to the context root, `*` and `?` within one path element, `**` across elements, a match on a
    directory excludes what is under it, `!` re-includes, the last matching pattern wins."""

    def __init__(self, text):
        self.rules = []
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            neg = line.startswith("!")
            if neg:
                line = line[1:].strip()
            line = posixpath.normpath(line).lstrip("/")
            if line in ("", "."):
                continue
            self.rules.append((neg, line, re.compile("^" + self._regex(line) + "$")))

    @staticmethod
    def _regex(pat):
        out, i = "", 0
        while i < len(pat):
            c = pat[i]
            if pat.startswith("**/", i):
                out, i = out + "(?:.*/)?", i + 3
                continue
            if pat.startswith("**", i):
                out, i = out + ".*", i + 2
                continue
            if c == "*":
                out += "[^/]*"
            elif c == "?":
                out += "[^/]"
            elif c == "[" and "]" in pat[i + 1:]:
                j = pat.index("]", i + 1)
                body = pat[i + 1:j]
                out += "[" + ("^" + body[1:] if body.startswith(("!", "^")) else body) + "]"
                i = j
            elif c == "\\" and i + 1 < len(pat):
                i += 1
                out += re.escape(pat[i])
            else:
                out += re.escape(c)
            i += 1
        return out

    def excluded(self, path):
        parts = path.strip("/").split("/")
        prefixes = ["/".join(parts[:k]) for k in range(1, len(parts) + 1)]
        result = False
        for neg, _, rx in self.rules:
            if any(rx.match(p) for p in prefixes):
                result = not neg
        return result


# ---------------------------------------------------------------------------------------------
# Debian package database (this machine is Debian bookworm, as the image)
# ---------------------------------------------------------------------------------------------
def dpkg_owner(path):
    """The package that ships `path` (trying the path as given, resolved, and its /usr-merged
    twin), or None."""
    cands = []
    for p in (path, os.path.realpath(path)):
        cands += [p, p[4:] if p.startswith("/usr/") else "/usr" + p]
    for c in dict.fromkeys(cands):
        r = subprocess.run(["dpkg-query", "-S", c], capture_output=True, text=True)
        if r.returncode != 0:
            continue
        for line in r.stdout.splitlines():
            if line.startswith("diversion "):
                continue
            pkgs, sep, found = line.partition(": ")
            if sep and found.strip() == c:
                return pkgs.split(",")[0].strip().split(":")[0]
    return None


class PackageDb:
    """Installed packages with their Depends/Pre-Depends (Recommends left out, as with
    --no-install-recommends) and Provides."""

    def __init__(self):
        fmt = "${Package}\t${db:Status-Abbrev}\t${Provides}\t${Pre-Depends}\t${Depends}\n"
        out = subprocess.run(["dpkg-query", "-W", "-f=" + fmt], capture_output=True, text=True, check=True).stdout
        self.deps, self.provides = {}, {}
        for line in out.splitlines():
            name, status, prov, predep, dep = (line.split("\t") + [""] * 5)[:5]
            if not status.startswith("ii"):
                continue
            groups = self.deps.setdefault(name, [])
            for field in (predep, dep):
                for grp in field.split(","):
                    alts = [self._name(a) for a in grp.split("|") if self._name(a)]
                    if alts:
                        groups.append(alts)
            for pv in prov.split(","):
                if self._name(pv):
                    self.provides.setdefault(self._name(pv), set()).add(name)

    @staticmethod
    def _name(dep):
        return re.sub(r"\(.*?\)|\[.*?\]|<.*?>", "", dep).strip().split(":")[0]

    def closure(self, roots):
        """roots and everything they depend on, recursively (every installed alternative)."""
        seen, stack = set(), list(roots)
        while stack:
            n = stack.pop()
            if n in seen:
                continue
            seen.add(n)
            for grp in self.deps.get(n, []):
                for alt in grp:
                    stack += ([alt] if alt in self.deps else []) + sorted(self.provides.get(alt, ()))
        return seen


def unknown_packages(names):
    """The names apt does not know as real packages (apt-cache on this machine, in one call) and
    dpkg has not installed either."""
    r = subprocess.run(["apt-cache", "show", "--no-all-versions"] + list(names), capture_output=True, text=True)
    known = set(re.findall(r"^Package: (\S+)$", r.stdout, re.M))
    out = []
    for name in names:
        if name in known:
            continue
        r = subprocess.run(["dpkg-query", "-W", "-f=${db:Status-Abbrev}", name], capture_output=True, text=True)
        if not (r.returncode == 0 and r.stdout.startswith("ii")):
            out.append(name)
    return out


# ---------------------------------------------------------------------------------------------
# Running the built binary as the container would
# ---------------------------------------------------------------------------------------------
def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("0.0.0.0", 0))
        return s.getsockname()[1]


def listens_on_any(port):
    """True when /proc/net/tcp has a LISTEN socket on 0.0.0.0:port."""
    want = f"00000000:{port:04X}"
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[1] == want and fields[3] == "0A":
                return True
    return False


def substitute(args, port_from, port_to, data_from, data_to):
    out = list(args)
    for i in range(len(out) - 1):
        if out[i] == "--port" and out[i + 1] == str(port_from):
            out[i + 1] = str(port_to)
        elif out[i] == "--data" and out[i + 1] == data_from:
            out[i + 1] = data_to
    return out


class Container:
    """The built binary run with a container's arguments: cwd and HOME the data directory,
    Docker's PATH, the image's uid/gid when we are root."""

    def __init__(self, binary, args, data_dir, log_path, uid=None, gid=None):
        self.log_path = log_path
        env = {"PATH": os.path.dirname(binary) + ":" + DOCKER_PATH, "HOME": data_dir}
        kw = {}
        if uid is not None:
            kw.update(user=uid, group=gid, extra_groups=[])
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen([binary] + args, cwd=data_dir, env=env, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     preexec_fn=harness._set_pdeathsig, **kw)

    def wait_healthy(self, port, timeout=START_TIMEOUT_S):
        t0 = time.monotonic()
        last = None
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise AssertionError(f"exited with status {self.proc.returncode} before it was healthy\n{self.tail()}")
            try:
                r = harness.raw_request(port, "GET", "/_tidepool/health", timeout=5)
                if r.status == 200:
                    return time.monotonic() - t0, r
                last = r
            except (OSError, http.client.HTTPException) as e:
                last = e
            time.sleep(0.1)
        raise AssertionError(f"not healthy within {timeout}s (last: {last!r})\n{self.tail()}")

    def stop(self, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"did not exit within {timeout}s of SIGTERM\n{self.tail()}")
        self.log.close()
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()

    def output(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def tail(self, n=30):
        return "--- output ---\n" + "\n".join(self.output().splitlines()[-n:])


# ---------------------------------------------------------------------------------------------
# The test
# ---------------------------------------------------------------------------------------------
class DockerRecipe(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.stages = parse_dockerfile(DOCKERFILE.read_text())
        if len(cls.stages) != 2:
            raise AssertionError(f"docker/Dockerfile: expected 2 stages (build, runtime), found {len(cls.stages)}")
        cls.build, cls.runtime = cls.stages
        cls.compose = parse_yaml_subset(COMPOSE.read_text())
        cls.ignore = DockerIgnore(DOCKERIGNORE.read_text())
        cls.tmp = tempfile.mkdtemp(prefix="tidepool-it-docker-")
        os.chmod(cls.tmp, 0o755)
        cls._built = None

    @classmethod
    def tearDownClass(cls):
        if os.environ.get("TIDEPOOL_KEEP_TMP"):
            sys.stderr.write(f"[docker-recipe] kept {cls.tmp}\n")
        else:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    # ---- the recipe's facts ----------------------------------------------------------------
    def one_apt_install(self, stage):
        installs = apt_installs(stage)
        self.assertEqual(len(installs), 1, f"stage {stage.name or stage.image}: expected one apt-get install")
        return installs[0]

    def runtime_packages(self):
        return self.one_apt_install(self.runtime)[0]

    def exposed_port(self):
        ports = [p for args in self.runtime.all("EXPOSE") for p in args.split()]
        self.assertEqual(len(ports), 1, f"EXPOSE: {ports}")
        return int(ports[0].split("/")[0])

    def cmd(self):
        return json_form(self.runtime.last("CMD"), "CMD")

    def runtime_ids(self):
        """(uid, gid) of the runtime USER: numeric, or a name the RUN steps create with --uid."""
        user = self.runtime.last("USER")
        self.assertIsNotNone(user, "the runtime stage sets no USER (it would run as root)")
        name, _, group = user.partition(":")
        runs = " ".join(self.runtime.all("RUN"))

        def resolve(value, tool, flag):
            if value.isdigit():
                return int(value)
            m = re.search(rf"\b{tool}\b[^;&]*?{flag}[= ](\d+)[^;&]*?\s{re.escape(value)}\b", runs)
            self.assertIsNotNone(m, f"{tool} {flag} N ... {value} not found in the runtime stage's RUN steps")
            return int(m.group(1))

        uid = resolve(name, "useradd", "--uid")
        gid = resolve(group, "groupadd", "--gid") if group else None
        if gid is None:
            m = re.search(r"\buseradd\b[^;&]*?--gid[= ](\d+)", runs)
            gid = int(m.group(1)) if m else uid
        return uid, gid

    def workdir(self, stage):
        return stage.last("WORKDIR") or "/"

    # ---- the build stage, run outside Docker (once) ---------------------------------------
    def build_commands(self):
        cmds = [seg for run in self.build.all("RUN") for seg in shell_segments(run)
                if shlex.split(seg)[:1] == ["cmake"]]
        self.assertTrue(any("-S" in shlex.split(c) for c in cmds), f"no cmake configure step: {cmds}")
        self.assertTrue(any("--build" in shlex.split(c) for c in cmds), f"no cmake --build step: {cmds}")
        return cmds

    def context_files(self):
        """What `COPY . .` sends: the working tree as git sees it (cached and untracked, not
        ignored), minus .dockerignore."""
        out = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             capture_output=True, check=True).stdout.decode()
        files = sorted({f for f in out.split("\0") if f})
        return [f for f in files if not self.ignore.excluded(f) and os.path.lexists(REPO / f)]

    def built(self):
        """(source copy, binary path, build seconds): the build stage done in a copy of the tree."""
        cls = type(self)
        if cls._built is None:
            cls._built = self._build()
        if isinstance(cls._built, BaseException):
            raise AssertionError(f"the build stage failed (see the first failing test): {cls._built}")
        return cls._built

    def _build(self):
        try:
            copies = [args.split() for args in self.build.all("COPY")]
            self.assertIn([".", "."], copies, "the build stage copies the context with `COPY . .`")
            src = os.path.join(self.tmp, "src")
            files = self.context_files()
            for rel in files:
                dst = os.path.join(src, rel)
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                if os.path.islink(REPO / rel):
                    os.symlink(os.readlink(REPO / rel), dst)
                else:
                    shutil.copy2(REPO / rel, dst)
            script = " && ".join(self.build_commands())
            note(f"build stage: {len(files)} files copied; running: {script}")
            t0 = time.monotonic()
            r = subprocess.run(["/bin/sh", "-c", script], cwd=src, env={"PATH": DOCKER_PATH, "HOME": self.tmp},
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=BUILD_TIMEOUT_S, preexec_fn=lambda: os.nice(10))
            secs = time.monotonic() - t0
            if r.returncode != 0:
                tail = "\n".join(r.stdout.decode("utf-8", "replace").splitlines()[-40:])
                raise AssertionError(f"build stage commands failed (status {r.returncode}):\n{tail}")
            note(f"build stage: done in {secs:.0f} s")
            # COPY --from=<build> /src/build/tidepool /usr/local/bin/tidepool, relative to WORKDIR.
            copy_from = [a.split() for a in self.runtime.all("COPY") if a.startswith("--from=")]
            self.assertEqual(len(copy_from), 1, f"the runtime stage copies one thing from the build: {copy_from}")
            frm, source, dest = copy_from[0]
            self.assertIn(frm.split("=", 1)[1], (self.build.name, "0"))
            rel = posixpath.relpath(posixpath.join(self.workdir(self.build), source), self.workdir(self.build))
            self.assertFalse(rel.startswith(".."), f"{source} is outside the build stage's WORKDIR")
            built = os.path.join(src, rel)
            self.assertTrue(os.access(built, os.X_OK), f"the build produced no {source}")
            # Installed like the image installs it: a directory of its own, open to the runtime user.
            bindir = os.path.join(self.tmp, "bin")
            os.makedirs(bindir, mode=0o755)
            binary = os.path.join(bindir, posixpath.basename(dest))
            shutil.copy2(built, binary)
            os.chmod(binary, 0o755)
            return src, binary, secs
        except BaseException as e:  # remembered, so later tests report it instead of rebuilding
            return e

    # ---- static checks ----------------------------------------------------------------------
    def test_01_both_stages_on_bookworm_slim(self):
        self.assertEqual(self.build.image, self.runtime.image, "build and runtime stages on the same image")
        self.assertRegex(self.build.image, r"^debian:bookworm-slim(@sha256:[0-9a-f]{64})?$")
        self.assertTrue(self.build.name, "the build stage is named (FROM ... AS build)")

    def test_02_build_packages_are_the_makefiles_apt_build(self):
        pkgs, _, _ = self.one_apt_install(self.build)
        apt_build = makefile_apt_build()
        self.assertEqual(len(pkgs), len(set(pkgs)), f"duplicates in the build stage's list: {pkgs}")
        self.assertEqual(sorted(set(pkgs)), sorted(set(apt_build)),
                         "docker/Dockerfile's build stage must install exactly the Makefile's APT_BUILD "
                         f"(only in Dockerfile: {sorted(set(pkgs) - set(apt_build))}, "
                         f"only in Makefile: {sorted(set(apt_build) - set(pkgs))})")

    def test_03_apt_hygiene(self):
        for stage in self.stages:
            pkgs, opts, run = self.one_apt_install(stage)
            self.assertIn("--no-install-recommends", opts, run)
            self.assertIn("-y", opts, run)
            self.assertRegex(run, r"\bapt-get update\b", "apt-get update in the same RUN as the install")
            self.assertIn("rm -rf /var/lib/apt/lists/*", run, "apt lists removed in the same RUN")

    def test_04_package_names_exist(self):
        """Every name in both apt-get installs is a real bookworm package (apt-cache on this
        bookworm machine, or installed here)."""
        unknown = unknown_packages([p for stage in self.stages for p in self.one_apt_install(stage)[0]])
        self.assertEqual(unknown, [], "not a package apt knows")

    def test_05_runtime_user_is_not_root_and_owns_the_volume(self):
        uid, gid = self.runtime_ids()
        self.assertNotEqual(uid, 0, "USER is root")
        self.assertNotEqual(gid, 0, "USER's group is root")
        volumes = [v for args in self.runtime.all("VOLUME") for v in
                   (json_form(args, "VOLUME") if args.startswith("[") else args.split())]
        self.assertEqual(volumes, ["/data"])
        runs = " ".join(self.runtime.all("RUN"))
        self.assertRegex(runs, r"\bchown\s+(?:-\S+\s+)?(?:%d|tidepool)(?::\S+)?\s+/data\b" % uid,
                         "/data is made and chowned to the runtime user before VOLUME (a fresh named volume copies it)")
        kws = [kw for kw, _ in self.runtime.instructions]
        self.assertLess(max(i for i, kw in enumerate(kws) if kw == "RUN"), kws.index("VOLUME"),
                        "RUN after VOLUME /data: its changes to /data would be discarded")

    def test_06_entrypoint_cmd_expose_healthcheck(self):
        port = self.exposed_port()
        entry = json_form(self.runtime.last("ENTRYPOINT"), "ENTRYPOINT")
        self.assertEqual(entry, ["tidepool"])
        dest = [a.split()[-1] for a in self.runtime.all("COPY") if a.startswith("--from=")]
        self.assertEqual(dest, ["/usr/local/bin/tidepool"], "the binary is installed on the image's PATH")
        cmd = self.cmd()
        self.assertEqual(cmd[0], "serve")
        opts = dict(zip(cmd[1::2], cmd[2::2]))
        self.assertEqual(opts.get("--host"), "0.0.0.0", "listens on all interfaces inside the container")
        self.assertEqual(opts.get("--port"), str(port), "CMD's --port is the EXPOSEd port")
        self.assertEqual(opts.get("--data"), "/data")
        hc = self.runtime.last("HEALTHCHECK")
        self.assertIsNotNone(hc, "no HEALTHCHECK")
        hopts, hcmd = parse_healthcheck(hc)
        self.assertRegex(hcmd, rf"^curl -fsS http://127\.0\.0\.1:{port}/_tidepool/health\b")
        for k in ("interval", "timeout", "start-period"):
            duration_s(hopts.get(k))
        self.assertIn("curl", self.runtime_packages(), "the HEALTHCHECK's curl is installed")

    def test_07_compose(self):
        port = self.exposed_port()
        services = self.compose.get("services") or {}
        self.assertEqual(list(services), ["tidepool"])
        svc = services["tidepool"]
        build = svc.get("build") or {}
        context = (COMPOSE.parent / build.get("context", ".")).resolve()
        self.assertEqual(context, REPO.resolve(), "built from the repository root")
        self.assertEqual((context / build.get("dockerfile", "Dockerfile")).resolve(), DOCKERFILE.resolve())
        self.assertNotIn("healthcheck", svc, "the image's HEALTHCHECK is inherited")
        self.assertEqual(svc.get("ports"), [f"127.0.0.1:{port}:{port}"], "published on the host's 127.0.0.1 only")
        vols = svc.get("volumes") or []
        self.assertEqual(len(vols), 1, vols)
        vname, _, target = str(vols[0]).partition(":")
        self.assertEqual(target, "/data")
        self.assertNotIn("/", vname, "a named volume, not a bind mount")
        self.assertIn(vname, self.compose.get("volumes") or {}, "the named volume is declared")
        command = svc.get("command")
        self.assertIsInstance(command, list, "command as a list")
        self.assertEqual(command[: len(self.cmd())], self.cmd(), "the image's CMD, plus the preset")
        self.assertEqual(command[len(self.cmd()):], ["--preset", "workshop"])
        self.assertNotIn("user", svc, "runs as the image's non-root user")

    def test_08_context_leaves_out_what_git_ignores(self):
        """Docker sends everything not in .dockerignore; this test copies what git lists. The two
        agree only if every git-ignored path here (build trees, node_modules, ...) is
        dockerignored, and a host build tree must not reach the image's configure step."""
        out = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z", "--others", "--ignored", "--exclude-standard",
                              "--directory"], capture_output=True, check=True).stdout.decode()
        ignored = sorted(p.rstrip("/") for p in out.split("\0") if p)
        self.assertEqual([p for p in ignored if not self.ignore.excluded(p)], [],
                         "git-ignored paths missing from .dockerignore")
        for p in (".git", "build", "build-asan", "data", "tests/integration/js/node_modules"):
            self.assertTrue(self.ignore.excluded(p), f"{p} is not dockerignored")
        kept = self.context_files()
        for needed in ("CMakeLists.txt", "server/main.c", "protocol/kpl.proto"):
            self.assertIn(needed, kept)

    # ---- the build stage, outside Docker ------------------------------------------------------
    def test_10_build_stage_builds_tidepool(self):
        src, binary, secs = self.built()
        r = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(harness.project_version() or "", r.stdout)

    def test_11_configure_finds_nothing_the_build_stage_lacks(self):
        """Every program or library CMake located (FILEPATH cache entries) comes from APT_BUILD,
        its dependencies or bookworm-slim; anything else would be missing in the build stage."""
        src, _, _ = self.built()
        db = PackageDb()
        allowed = db.closure(set(makefile_apt_build()) | BOOKWORM_SLIM)
        found, problems = {}, []
        with open(os.path.join(src, "build", "CMakeCache.txt")) as f:
            for line in f:
                m = re.match(r"^([^#/][^:=]*):FILEPATH=(/.+)$", line.rstrip("\n"))
                if not m or not os.path.isfile(m.group(2)):
                    continue
                pkg = dpkg_owner(m.group(2))
                found[m.group(1)] = (m.group(2), pkg)
                if pkg not in allowed:
                    problems.append(f"{m.group(1)}={m.group(2)} (package {pkg})")
        self.assertTrue(found, "no FILEPATH entries in CMakeCache.txt")
        self.assertEqual(problems, [], "configure used files the build stage does not install; "
                                       "add their package to APT_BUILD (and the Dockerfile) or make them optional")

    def test_12_runtime_stage_has_every_library(self):
        _, binary, _ = self.built()
        runtime = set(self.runtime_packages())
        needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]",
                            subprocess.run(["readelf", "-d", binary], capture_output=True, text=True, check=True).stdout)
        ldd = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
        paths = {}
        for line in ldd.splitlines():
            m = re.match(r"^\s*(\S+) => (/\S+) \(", line) or re.match(r"^\s*((/\S+)) \(", line)
            if m:
                paths[posixpath.basename(m.group(1))] = m.group(2)
            elif "=> not found" in line:
                self.fail(f"ldd: {line.strip()}")
        self.assertTrue(needed and paths, ldd)
        owner = {lib: dpkg_owner(p) for lib, p in paths.items()}
        direct = {lib: owner.get(lib) for lib in needed}
        missing_direct = {lib: pkg for lib, pkg in direct.items() if pkg not in runtime | C_RUNTIME}
        self.assertEqual(missing_direct, {}, "libraries the binary links whose package the runtime stage does not "
                                             "install (add the package to its apt-get install)")
        allowed = PackageDb().closure(runtime) | BOOKWORM_SLIM
        missing = {lib: pkg for lib, pkg in owner.items() if pkg not in allowed}
        self.assertEqual(missing, {}, "libraries ldd loads that neither the runtime packages (with their "
                                      "dependencies) nor bookworm-slim provide")
        note("direct libraries: " + ", ".join(f"{lib} ({pkg})" for lib, pkg in sorted(direct.items())))
        unused = sorted(runtime - set(owner.values()) - set(NOT_LIBRARIES))
        if unused:
            note(f"runtime packages the binary does not load (yet): {', '.join(unused)}")

    # ---- the image's CMD and compose's command, run ---------------------------------------------
    def run_container(self, args, label):
        _, binary, _ = self.built()
        port = free_port()
        data = tempfile.mkdtemp(prefix=f"data-{label}-", dir=self.tmp)
        uid = gid = None
        if os.geteuid() == 0:
            uid, gid = self.runtime_ids()
            os.chown(data, uid, gid)
        os.chmod(data, 0o755)
        args = substitute(args, self.exposed_port(), port, "/data", data)
        note(f"{label}: tidepool {shlex.join(args)}" + (f" as uid {uid}" if uid is not None else ""))
        c = Container(binary, args, data, os.path.join(self.tmp, f"{label}.log"), uid, gid)
        try:
            secs, resp = c.wait_healthy(port)
            self.assertEqual(resp.json().get("status"), "ok", resp)
            self.assertTrue(listens_on_any(port), f"nothing listens on 0.0.0.0:{port} (/proc/net/tcp)")
            # The HEALTHCHECK command itself, against this port.
            hopts, hcmd = parse_healthcheck(self.runtime.last("HEALTHCHECK"))
            self.assertIsNotNone(shutil.which("curl"), "curl is needed to run the HEALTHCHECK (make test-deps)")
            hcmd = hcmd.replace(f":{self.exposed_port()}/", f":{port}/")
            r = subprocess.run(["/bin/sh", "-c", hcmd], capture_output=True, text=True, timeout=10)
            self.assertEqual(r.returncode, 0, f"HEALTHCHECK failed: {hcmd}\n{r.stdout}{r.stderr}")
            self.assertEqual(json.loads(r.stdout).get("status"), "ok", r.stdout)
            self.assertLess(secs, duration_s(hopts["start-period"]), "healthy only after the HEALTHCHECK start period")
            note(f"{label}: healthy after {secs:.1f} s")
        except BaseException:
            c.kill()
            raise
        rc = c.stop()
        self.assertEqual(rc, 0, f"exit status after SIGTERM (docker stop)\n{c.tail()}")
        return c.output()

    def test_13_image_cmd_serves(self):
        self.run_container(self.cmd(), "cmd")

    def test_14_compose_command_serves(self):
        _, binary, _ = self.built()
        command = list(self.compose["services"]["tidepool"]["command"])
        usage = subprocess.run([binary, "serve", "--help"], capture_output=True, text=True, timeout=10)
        if "--preset" not in usage.stdout + usage.stderr:
            for flag in ("--preset", "--trips"):
                while flag in command:
                    i = command.index(flag)
                    del command[i:i + 2]
            note("this tidepool has no --preset yet (serve --help): compose's command runs without "
                 "--preset workshop")
        out = self.run_container(command, "compose")
        if "--preset" in command:
            note("compose: the preset's output:\n" + "\n".join(out.splitlines()[:20]))


if __name__ == "__main__":
    harness.main()
