"""Fill the chart store from the lock: each locked chart fetched from its upstream git repository at the locked
commit, assembled by the recipe the vendor tool ran (`recipe.py`), and stored only if its files give the lock's
digest (and a packaged chart's blob the lock's sha256).

Upstream repositories are named `owner/name` in the lock; a git base turns one into a URL or path:
`https://github.com` (the default) gives `https://github.com/owner/name`; a base holding `{owner}` or `{name}` is
filled in (`/srv/mirror/{owner}+{name}/repo` is the vendor tools' MIRROR layout). `$MLOPS_INFRA_CHART_GIT_BASE` or
`--mirror` sets it, for a proxy or an internal mirror. Each git command stops after `$MLOPS_INFRA_GIT_TIMEOUT` seconds
(default 300; `recipe.git_timeout`), and the chart is refused.

Concurrent pulls into one store are safe: each chart is fetched, built (in the pull's scratch folder) and stored
while the pull holds an exclusive lock on the store's `.pull.lock` (`fcntl.flock`), after checking again that no
other pull stored it meanwhile, so two pulls never fetch the same chart; a pull that has to wait for the lock says
so (`notify`), and releases it between charts. A copy it replaces is moved aside before the new one is renamed in,
then deleted.

Scratch folders (`.pull-*` in the store, which may hold hundreds of MB of git objects) belong to a live pull only
while it holds an exclusive `flock` on the folder itself: the kernel drops that lock when the process dies, even by
SIGKILL. Each pull, under the store lock, first deletes every `.pull-*` folder whose lock it can take (one a killed
pull left), then creates its own and locks it, so no pull can take a folder another is still creating.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import KUSTOMIZE_DIR, META, STORE_ENV, UnsafeTree, parse_remote, tree_digest, tree_refusal
from .kustomize_recipe import Repo, Vendor
from .recipe import ChartError, Recipe, assemble, run_git

GIT_BASE_ENV = "MLOPS_INFRA_CHART_GIT_BASE"
DEFAULT_GIT_BASE = "https://github.com"
_HEX = re.compile(r"[0-9a-f]{4,40}")
LOCK_FILE = ".pull.lock"
SCRATCH_PREFIX = ".pull-"
SCRATCH_LOCK = ".lock"  # inside a scratch folder: its owner's flock (held by the pull and inherited by its git children)


class PullError(Exception):
    """A locked chart cannot be stored: git is missing, the upstream is unreachable, its ref names another commit
    than the lock, or the fetched files do not give the lock's digest. Nothing is left in the store."""


def git_base(explicit: str | None) -> str:
    """`explicit` (`--mirror`), else `$MLOPS_INFRA_CHART_GIT_BASE`, else `https://github.com`."""
    return explicit or os.environ.get(GIT_BASE_ENV) or DEFAULT_GIT_BASE


def repository_url(base: str, repository: str) -> str:
    """Where `owner/name` is fetched from under `base` (a URL or a folder; `{owner}`/`{name}` are filled in)."""
    owner, name = repository.split("/", 1)
    if "{owner}" in base or "{name}" in base:
        return base.format(owner=owner, name=name)
    return f"{base.rstrip('/')}/{owner}/{name}"


# The scratch locks of the pulls running in this process: every git child inherits them (pass_fds), so the kernel
# holds a scratch folder's lock while any of its git children lives, even after its pull was killed, and the next
# pull never deletes a folder a git process still writes into.
_HELD_SCRATCH_LOCKS: set[int] = set()


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}  # an unknown repository fails; it never asks for a password
    try:
        done: subprocess.CompletedProcess[str] = run_git(  # args[0] is "git"
            args[1:], text=True, env=env, pass_fds=sorted(_HELD_SCRATCH_LOCKS))
    except ChartError as e:  # a timeout, or $MLOPS_INFRA_GIT_TIMEOUT unreadable
        raise PullError(str(e)) from e
    return done


class _Fetcher:
    """One bare repository per upstream (under a scratch folder), fetched commit by commit."""

    def __init__(self, base: str, scratch: Path) -> None:
        self.base = base
        self.scratch = scratch
        self.git_dirs: dict[str, str] = {}

    def git_dir(self, repository: str, ref: str, commit: str) -> str:
        """A git dir holding `commit`, after checking that upstream's `ref` still names it."""
        url = repository_url(self.base, repository)
        if "://" not in url and Path(url).is_dir():  # a local clone (bare or not) is read in place, as the vendor
            return self._local(url, ref, commit)  # tools read their MIRROR: nothing is copied
        git_dir = self.git_dirs.get(repository)
        if git_dir is None:
            git_dir = str(self.scratch / repository.replace("/", "+"))
            init = _run(["git", "init", "-q", "--bare", git_dir])
            if init.returncode != 0:
                raise PullError(f"git init {git_dir}: {init.stderr.strip()}")
            self.git_dirs[repository] = git_dir
        named = self._check_ref(url, ref, commit)  # every entry's ref, even when another entry fetched the commit
        if _run(["git", "--git-dir", git_dir, "cat-file", "-e", f"{commit}^{{commit}}"]).returncode == 0:
            return git_dir
        fetched = _run(["git", "--git-dir", git_dir, "fetch", "-q", "--depth", "1", url, commit])
        if fetched.returncode != 0 and named:  # a server that serves no commit by id: the ref's history holds it
            fetched = _run(["git", "--git-dir", git_dir, "fetch", "-q", url, named])
        if _run(["git", "--git-dir", git_dir, "cat-file", "-e", f"{commit}^{{commit}}"]).returncode != 0:
            raise PullError(f"{url}: cannot fetch commit {commit} (the lock's, for {ref}): "
                            f"{fetched.stderr.strip() or 'not on ' + (named or ref)}")
        return git_dir

    def _local(self, path: str, ref: str, commit: str) -> str:
        found = _run(["git", "-C", path, "rev-parse", "--absolute-git-dir"])
        if found.returncode != 0:
            raise PullError(f"{path} is not a git repository: {found.stderr.strip()}")
        git_dir = found.stdout.strip()
        self._check_ref(path, ref, commit)
        if _run(["git", "--git-dir", git_dir, "cat-file", "-e", f"{commit}^{{commit}}"]).returncode != 0:
            raise PullError(f"{path} does not hold commit {commit} (the lock's, for {ref})")
        return git_dir

    @staticmethod
    def _check_ref(url: str, ref: str, commit: str) -> str:
        """The full ref upstream names `ref` by ('' for a commit id); a tag that names another commit is refused."""
        tag, head = f"refs/tags/{ref}", f"refs/heads/{ref}"
        listed = _run(["git", "ls-remote", url, tag, f"{tag}^{{}}", head])
        if listed.returncode != 0:
            raise PullError(f"cannot read {url}: {listed.stderr.strip()} (behind a proxy or offline: --mirror or "
                            f"${GIT_BASE_ENV} names a reachable copy)")
        refs = {name: sha for sha, name in (line.split("\t", 1) for line in listed.stdout.splitlines() if "\t" in line)}
        tagged = refs.get(f"{tag}^{{}}", refs.get(tag))
        if tagged is not None:
            if tagged != commit:
                raise PullError(f"{url}: tag {ref} names {tagged}, the lock records {commit} (the tag moved, or the "
                                "mirror is not this upstream); refusing")
            return tag
        if head in refs:
            return head  # a release branch (gh-pages) moves on: the locked commit must be in its history
        if _HEX.fullmatch(ref) and commit.startswith(ref):
            return ""
        raise PullError(f"{url} has no tag or branch {ref!r} (the lock's ref for commit {commit})")


@dataclass(frozen=True)
class Pulled:
    dir: str
    path: Path
    fetched: bool
    """False: a verified copy was already in the store, nothing was fetched"""


def folder_of(entry: Mapping[str, Any]) -> str:
    """Where a lock entry is stored, relative to a store root: `<name>-<version>` for a chart (the `charts` list),
    `kustomize/<name>` for a set of kustomize bases (the `kustomize` list)."""
    return str(entry["dir"]) if "dir" in entry else f"{KUSTOMIZE_DIR}/{entry['name']}"


def stored_copy(entry: Mapping[str, Any], roots: list[Path]) -> Path | None:
    """The store folder holding `entry`'s files with the lock's digest, or None."""
    for root in roots:
        folder = root / folder_of(entry)
        if (folder / META).is_file() and tree_refusal(folder, entry["digest"]) is None:  # a symlink: refused
            return folder
    return None


@contextlib.contextmanager
def _store_lock(store: Path, notify: Callable[[str], None]) -> Iterator[None]:
    """Hold the store's exclusive lock (other pulls into `store` wait, saying so through `notify`; readers never
    take it)."""
    with open(store / LOCK_FILE, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            notify(f"waiting for the chart store lock held by another pull ({store / LOCK_FILE})")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _owned(folder: Path) -> int:
    """An open descriptor holding `folder`'s exclusive lock without waiting (the caller closes it); raises
    BlockingIOError while a live pull, or a git child of a killed one, holds it. The lock is on a file inside the
    folder opened for writing (flock on a read-only directory descriptor fails on NFS)."""
    fd = os.open(folder / SCRATCH_LOCK, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _delete_owned(folder: Path, fd: int) -> None:
    """Delete the scratch `folder` whose lock `fd` holds, and close `fd`. Its content goes while the lock is held; the
    lock file goes last, once closed (on NFS an open file that is unlinked lingers as `.nfs*` and the folder could not
    be removed). Call under the store lock: no other pull takes the folder in between."""
    try:
        for child in folder.iterdir():
            if child.name == SCRATCH_LOCK:
                continue
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    finally:
        os.close(fd)
    with contextlib.suppress(FileNotFoundError):
        (folder / SCRATCH_LOCK).unlink()
    folder.rmdir()


def remove_stale_scratch(store: Path, notify: Callable[[str], None]) -> list[str]:
    """Delete the `.pull-*` folders in `store` no live pull owns; the names deleted. A folder that cannot be locked or
    deleted is reported through `notify` and kept (the pull goes on). Call under the store lock."""
    removed = []
    for folder in sorted(store.glob(f"{SCRATCH_PREFIX}*")):
        if folder.is_symlink() or not folder.is_dir():
            continue
        try:
            fd = _owned(folder)
        except BlockingIOError:
            continue  # a live pull's, or one whose git child still runs
        except OSError as e:
            notify(f"kept {folder.name}, a stale scratch folder that cannot be locked: {e}")
            continue
        try:
            _delete_owned(folder, fd)
        except OSError as e:
            notify(f"kept {folder.name}, a stale scratch folder that cannot be deleted: {e}")
            continue
        notify(f"removed {folder.name}, the scratch folder of a pull that was stopped before it could clean up")
        removed.append(folder.name)
    return removed


def pull(entries: Sequence[Mapping[str, Any]], store: Path, roots: list[Path], base: str, *,
         notify: Callable[[str], None]) -> Iterator[Pulled | PullError]:
    """Store each entry's chart under `store` unless `roots` already hold a verified copy; yields, entry by entry, what
    was stored or why it was refused (then nothing of that chart is left in the store). Raises PullError before
    the first entry when git is missing or the store cannot be written. `notify` receives progress the caller
    should show (waiting for another pull's lock, stale scratch removed)."""
    if shutil.which("git") is None:
        raise PullError("`mlops-infra charts pull` needs git on PATH: it reads each chart from its upstream git "
                        "repository, or from the clones `--mirror` names (install git; or run `mlops-infra charts "
                        f"pull` where git is, and copy that store here: ${STORE_ENV} names it)")
    try:
        store.mkdir(parents=True, exist_ok=True)
        with _store_lock(store, notify):
            remove_stale_scratch(store, notify)
            tmp = tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=store)  # same filesystem: the move is a rename
            owner = _owned(Path(tmp))
    except OSError as e:
        raise PullError(f"cannot write the chart store {store}: {e}") from e
    _HELD_SCRATCH_LOCKS.add(owner)
    try:
        fetcher = _Fetcher(base, Path(tmp) / "git")
        for entry in entries:
            present = stored_copy(entry, roots)
            if present is not None:
                yield Pulled(folder_of(entry), present, fetched=False)
                continue
            built = Path(tmp) / "build" / folder_of(entry)
            try:
                with _store_lock(store, notify):  # yields only after the lock is released: a slow caller blocks no pull
                    present = stored_copy(entry, roots)  # another pull may have stored it while this one waited
                    if present is None:
                        (_build_chart if "dir" in entry else _build_bases)(entry, built, fetcher)
                        stored = _store(entry, built, store, Path(tmp) / "old")
                yield (Pulled(folder_of(entry), present, fetched=False) if present is not None
                       else Pulled(folder_of(entry), stored, fetched=True))
            except OSError as e:
                shutil.rmtree(built, ignore_errors=True)
                yield PullError(f"{folder_of(entry)}: {e}; nothing stored")
            except PullError as e:
                shutil.rmtree(built, ignore_errors=True)  # scratch only: nothing of it reached the store
                yield e
    finally:
        _HELD_SCRATCH_LOCKS.discard(owner)
        with _store_lock(store, notify):  # the lock file goes after the close: no other pull takes it in between
            _delete_owned(Path(tmp), owner)


def _build_chart(entry: Mapping[str, Any], built: Path, fetcher: _Fetcher) -> None:
    source = entry["source"]
    recipe = Recipe.from_lock(entry)
    git_dirs = {recipe.repository: fetcher.git_dir(recipe.repository, source["ref"], source["commit"])}
    for sub in source["subcharts"]:
        if "commit" in sub:
            git_dirs[sub["repository"]] = fetcher.git_dir(sub["repository"], sub["ref"], sub["commit"])
    try:
        made = assemble(recipe, git_dirs, built)
    except ChartError as e:
        raise PullError(f"{entry['dir']}: {e}; nothing stored") from e
    if made.package_sha256 != source.get("package_sha256", ""):
        raise PullError(f"{entry['dir']}: the package's sha256 is {made.package_sha256}, the lock records "
                        f"{source.get('package_sha256')}; nothing stored")


def _build_bases(entry: Mapping[str, Any], built: Path, fetcher: _Fetcher) -> None:
    """The kustomize bases `tools/vendor_kustomize.py` stored: its roots at the locked commit, and each remote base
    at the commit the lock records for its ref."""
    source = entry["source"]
    main = Repo(fetcher.git_dir(source["repository"], source["ref"], source["commit"]), source["repository"],
                {source["ref"]: source["commit"]})
    by_repository: dict[str, Repo] = {}
    for remote in source["remotes"]:
        repo = by_repository.setdefault(remote["repository"], Repo("", remote["repository"], {}))
        repo.git_dir = fetcher.git_dir(remote["repository"], remote["ref"], remote["commit"])
        repo.commits[remote["ref"]] = remote["commit"]
    remotes = {}
    for line in source["rewritten"]:  # the URL a kustomization names -> the repository the lock fetched it from
        found = parse_remote(line["from"])
        if found is not None:
            remotes[found.repo] = by_repository["/".join(found.repo.split("/")[-2:])]
    built.mkdir(parents=True)
    vendor = Vendor(built, main, source["ref"], remotes)
    try:
        for root in source["paths"]:
            vendor.kustomization(main, source["ref"], root.strip("/"))
    except (ChartError, KeyError) as e:
        raise PullError(f"{folder_of(entry)}: {e}; nothing stored") from e


def _store(entry: Mapping[str, Any], built: Path, store: Path, aside: Path) -> Path:
    """Move `built` into the store if its files give the lock's digest; otherwise delete it and refuse. A copy already
    there (whose files no longer match) is moved into `aside` first, and deleted once the new one is in place."""
    try:
        try:
            actual = tree_digest(built)
        except UnsafeTree as e:
            raise PullError(f"{folder_of(entry)}: {e}; nothing stored") from e
        if actual != entry["digest"]:
            raise PullError(f"{folder_of(entry)}: the fetched files give {actual}, the lock records "
                            f"{entry['digest']} (the upstream's tree differs from what was locked); nothing stored")
        (built / META).write_text(json.dumps(dict(entry), indent=2) + "\n")
        target = store / folder_of(entry)
        target.parent.mkdir(parents=True, exist_ok=True)
        old = aside / folder_of(entry)
        if target.exists() or target.is_symlink():  # a copy whose files no longer match: replaced by the verified one
            old.parent.mkdir(parents=True, exist_ok=True)
            target.rename(old)
        built.rename(target)
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old)
        elif old.exists() or old.is_symlink():
            old.unlink()
    finally:
        if built.exists():
            shutil.rmtree(built)
    return target
