"""The output directory of ``tokenmill prepare``: its lock, checkpoint, resume and cleanup.

A run holds an ``flock`` on ``.tokenmill.lock``; before any task runs it writes
``.progress.json`` (the identity of the store being made); each finished task writes its
own record in ``.tasks/`` (see :mod:`tokenmill.prepare.worker`); the manifest, written
last, marks the store complete. A rerun with the same identity skips the finished tasks,
or finds the store complete and does nothing.

Pitfall: the identity (tokenizer, stored options, inputs' paths, sizes and mtimes) decides
whether a store may be reused; touching an input (a new mtime) makes its store "other
inputs", refused unless ``overwrite``.

>>> is_ours("train-00003.bin"), is_ours(".progress.json"), is_ours("notes.txt")
(True, True, False)
"""

from __future__ import annotations

import json
import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tokenmill.common.errors import ExplainedError
from tokenmill.prepare.own_files import is_ours, real_dir, remove_links
from tokenmill.prepare.tasks import TASKS_DIR, UNPACK_DIR
from tokenmill.store import FORMAT, atomic_write_bytes, dtype_for
from tokenmill.store.format import FORMAT_VERSION, LOCK_NAME, MANIFEST_NAME, PROGRESS_NAME
from tokenmill.store.repair import shard_problem

PROGRESS, LOCK, MANIFEST = PROGRESS_NAME, LOCK_NAME, MANIFEST_NAME


def store_identity(
    tok: Any,
    options: dict[str, Any],
    inputs: list[dict[str, Any]],
    *,
    tokenizer_file: str | None = None,
    skipped: Sequence[str] = (),
    command: Sequence[str] = (),
) -> dict[str, Any]:
    """What a store is made of; a rerun may reuse the store only if this is unchanged.

    Pitfall: the tokenizer counts by its vocabulary's sha256 too, not just its name: a
    vocabulary file with other contents under the same name makes another store.
    ``tokenizer_file`` is where the store keeps its copy of a tokenizer given as a file or
    directory; ``skipped`` lists the files of unknown type skipped inside directory inputs;
    ``command`` is the `tokenmill prepare` command that makes this store, as words, without
    ``--out`` (for advice that works as written).
    Neither of the last two decides whether a store may be reused.

    >>> from tokenmill.tokenizers import get_tokenizer
    >>> store_identity(get_tokenizer("gpt2"), {"seed": 0}, [])["tokenizer"]["max_token_value"]
    50256
    """
    tokenizer = {
        "name": tok.name,
        "vocab_size": tok.vocab_size,
        "max_token_value": tok.max_token_value,
        "ranks_sha256": tok.ranks_sha256,
        "eot_id": tok.eot_id,
    }
    if getattr(tok, "definition_sha256", None):  # ranks, pattern and specials: all decide the IDs
        tokenizer["definition_sha256"] = tok.definition_sha256
    if tokenizer_file is not None:
        tokenizer["file"] = tokenizer_file
    identity = {"tokenizer": tokenizer, "options": options, "inputs": inputs}
    if skipped:
        identity["skipped_inputs"] = list(skipped)
    if command:
        identity["command"] = list(command)
    return identity


def check_out_dir(out: Path, *, overwrite: bool = False) -> Path | None:
    """Check ``out`` and create it if needed; the topmost directory this call created, or None.

    Everything that can be refused is refused before anything is written: a file, an
    unwritable directory, or a non-empty folder that holds no store (unless ``overwrite``)
    gets no lock file and no directory.
    """
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file, not a directory; choose a directory path")
    if out.is_dir():
        if not os.access(out, os.W_OK | os.X_OK):
            raise ValueError(f"the output directory {out} is not writable; choose another --out")
        if not overwrite and not _is_store_dir(out) and any(not is_ours(p.name) for p in out.iterdir()):
            raise _not_empty(out)
        return None
    top = out.absolute()
    while not top.parent.exists() and top.parent != top:
        top = top.parent
    try:
        out.mkdir(parents=True)
    except FileExistsError:  # made by a concurrent run a moment ago: the lock sorts it out
        return None
    except OSError as exc:
        raise ValueError(f"cannot create the output directory {out}: {exc.strerror or exc}") from None
    return top


def _is_store_dir(out: Path) -> bool:
    return (out / MANIFEST).exists() or (out / PROGRESS).exists()


def _not_empty(out: Path) -> ExplainedError:
    return ExplainedError(
        "{0} is not empty and holds no token store; choose an empty or new --out "
        "(or pass {overwrite=True} to write into it anyway: only prepare's own files are replaced)",
        out,
    )


def load_state(out: Path, identity: dict[str, Any], overwrite: bool, *, damaged: list[Any] | None = None) -> bool:
    """True if ``out`` already holds this store, sound; else get ``out`` ready for the tasks.

    A complete store is checked before it is called up to date: every shard's size, index
    and sha256 (a damaged one is rebuilt, with a warning). Ready for the tasks means:
    ``.progress.json`` names the identity being made, the manifest is gone, and what an
    earlier run left (task records, shards) stays: each task checks its own record by
    digest and checksum, so only output that this run would write again is reused.

    ``damaged``: a complete store with a damaged shard appends its manifest there, so that
    the caller can restore the tasks' records and redo only the damaged tasks.

    Pitfall: it deletes prepare's own files only, never anything else; call it with the lock held.
    """
    fix = "pass {overwrite=True} to start over, or choose another --out"
    remove_links(out)  # before anything is read or written under prepare's own names
    manifest, manifest_error = _load_json(out / MANIFEST)
    progress, progress_error = _load_json(out / PROGRESS)
    have: dict[str, Any] | None = None
    complete = False
    newer = next((d for d in (manifest, progress) if d and _newer_format(d.get("format_version"))), None)
    if newer is not None and not overwrite:  # never rebuilt silently in an older format
        raise ExplainedError(
            "{0} holds a store of format version {1}, newer than this tokenmill writes ({2}); "
            "upgrade tokenmill (pip install -U tokenmill), or pass {overwrite=True} to rebuild it in version {2}",
            out, newer["format_version"], FORMAT_VERSION,
        )
    if manifest is not None and manifest.get("format") == FORMAT:
        have, complete = manifest, True
    elif manifest_error is not None and not overwrite:
        if not any(is_ours(p.name) and p.name.endswith(".bin") for p in out.iterdir()):
            raise ExplainedError("{0} is not a token store manifest ({1}); " + fix, out / MANIFEST, manifest_error)
        warnings.warn(f"{out / MANIFEST} is corrupt ({manifest_error}); rebuilding the store", stacklevel=3)
    elif manifest is not None:  # valid JSON of some other program's
        if not overwrite:
            raise ExplainedError("{0} holds a {1} that is not a token store's; " + fix, out, MANIFEST)
    elif progress_error is not None:
        # The checkpoint says which store the shards there belong to: never guess.
        if not overwrite:
            raise ExplainedError(
                "{0}, the checkpoint of an interrupted prepare, is corrupt ({1}); "
                "without it the shards there cannot be trusted: " + fix + " (they are rebuilt)",
                out / PROGRESS, progress_error,
            )
        warnings.warn(f"{out / PROGRESS} is corrupt ({progress_error}); starting over", stacklevel=3)
    elif progress is not None:
        if not progress.get("failed"):  # after bad input, the fix may change inputs or options
            have = progress.get("identity", {})
    elif any(not is_ours(p.name) for p in out.iterdir()) and not overwrite:
        raise _not_empty(out)
    if have is not None and (diffs := _diff(identity, have)):
        if not overwrite:
            raise ExplainedError(
                "{0} holds a store made from other inputs or options ({1}); "
                "pass {overwrite=True} to replace it, or choose another --out",
                out, "; ".join(diffs),
            )
        have = None
    if have is not None and complete and not overwrite and have.get("format_version") == FORMAT_VERSION:
        itemsize = dtype_for(identity["tokenizer"]["max_token_value"]).itemsize
        entries = [e for st in have.get("splits", {}).values() for e in st.get("shards", [])]
        problem = next((p for e in entries if (p := shard_problem(out, e, itemsize))), None)
        if problem is None:
            clean_leftovers(out)  # a run killed right after the manifest left its checkpoint behind
            return True
        warnings.warn(f"{problem}; rebuilding the tasks whose shards are damaged", stacklevel=3)
        if damaged is not None:
            damaged.append(have)
    (out / MANIFEST).unlink(missing_ok=True)  # first: from here on the directory is no store
    if progress_error is not None:
        clean(out, keep=set())  # no trustworthy record of what the files there are
    real_dir(out / TASKS_DIR)
    save_checkpoint(out, identity)
    return False


def save_checkpoint(out: Path, identity: dict[str, Any], *, failed: bool = False) -> None:
    """Record which store ``out`` is becoming (the tasks record their own progress).

    ``failed``: the run stopped on bad input, so the rerun that follows a fix may bring
    other inputs or options without ``overwrite`` (only tasks with the same digest are reused).
    """
    state = {"format_version": FORMAT_VERSION, "identity": identity, "failed": failed}
    data = json.dumps(state, sort_keys=True).encode()
    atomic_write_bytes(out / PROGRESS, data)


def clean(out: Path, *, keep: set[str]) -> None:
    """Remove prepare's own files (never anything else) but ``keep``, the manifest first."""
    if MANIFEST not in keep:
        (out / MANIFEST).unlink(missing_ok=True)
    for p in out.iterdir():
        if not is_ours(p.name) or p.name in keep or p.name == LOCK:
            continue
        if p.is_symlink():  # removed as a link: never followed out of --out
            p.unlink()
        elif p.name in (TASKS_DIR, UNPACK_DIR) and p.is_dir():
            for q in p.iterdir():
                if q.is_file() and re.fullmatch(r"\d+\.jsonl?(\.\d+\.tmp)?", q.name):
                    q.unlink(missing_ok=True)
            try:
                p.rmdir()
            except OSError:  # something not ours in there: leave it
                pass
        elif p.is_file():
            p.unlink()


def clean_leftovers(out: Path) -> None:
    """Remove a finished store's leftovers: the obsolete checkpoint, task records, unfinished writes."""
    for p in out.iterdir():
        if (p.name == PROGRESS or (p.name.endswith(".tmp") and is_ours(p.name))) and p.is_file():
            p.unlink()
    if (out / TASKS_DIR).is_dir() or (out / UNPACK_DIR).is_dir():
        clean(out, keep={p.name for p in out.iterdir() if p.name not in (TASKS_DIR, UNPACK_DIR)})


def remove_trace(out: Path, *, created: Path | None) -> None:
    """Leave no litter after a run that kept nothing: prepare's files, the lock, the dirs it made.

    ``created`` is what :func:`check_out_dir` returned: the topmost directory it made.
    """
    clean(out, keep=set())
    (out / LOCK).unlink(missing_ok=True)  # still held by the caller: nobody can take it meanwhile
    if created is None:
        return
    path = out.absolute()
    while True:
        try:
            path.rmdir()
        except OSError:  # something not ours is in it: leave it
            return
        if path == created or path.parent == path:
            return
        path = path.parent


def _option_name(group: str, key: str) -> str:
    """How a user names what changed: the flag (``--val-fraction`` for ``val_fraction=``).

    >>> _option_name("options", "val_fraction"), _option_name("tokenizer", "ranks_sha256")
    ('--val-fraction', 'the tokenizer (its ranks_sha256)')
    """
    if group == "tokenizer":
        return f"the tokenizer (its {key})"
    return f"--{key.replace('_', '-')}"


def _diff(want: dict[str, Any], have: dict[str, Any]) -> list[str]:
    """What differs between two identities, as "key: old -> new" lines for the error."""
    out = []
    for key in ("tokenizer", "options"):
        for k in sorted(set(want[key]) | set(have.get(key, {}))):
            if want[key].get(k) != have.get(key, {}).get(k):
                out.append(f"{_option_name(key, k)}: {have.get(key, {}).get(k)!r} -> {want[key].get(k)!r}")
    if want["inputs"] != have.get("inputs"):
        old = {i["path"]: i for i in have.get("inputs", [])}
        changed = [i["path"] for i in want["inputs"] if old.get(i["path"]) != i] or [
            "(order or set of files)"
        ]
        out.append(f"inputs changed (added, removed, new size or mtime): {', '.join(changed[:5])}")
    return out


def _newer_format(version: Any) -> bool:
    return isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION


def _load_json(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """(the JSON object at ``path`` or None, why it is unusable or None); a missing file is (None, None)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, None
    except (OSError, ValueError) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    except RecursionError:  # JSON nested past Python's limit: damaged, never a crash
        return None, "JSON nested too deeply to be a manifest or checkpoint"
    if not isinstance(data, dict):
        return None, f"a JSON {type(data).__name__}, not an object"
    if path.name == PROGRESS and not isinstance(data.get("identity"), dict):
        return None, "not a prepare checkpoint (no identity)"
    return data, None
