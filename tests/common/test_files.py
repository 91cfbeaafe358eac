"""Atomic writes: the old file or the whole new one, never a write through a link."""

from __future__ import annotations


def test_an_atomic_write_never_follows_a_link_planted_under_its_temporary_name(tmp_path) -> None:
    from tokenmill.common.files import atomic_write_bytes, temp_name

    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    target = tmp_path / "out.json"
    temp_name(target).symlink_to(victim)
    atomic_write_bytes(target, b"new")
    assert victim.read_text() == "keep me" and target.read_bytes() == b"new"
    assert not temp_name(target).exists()
