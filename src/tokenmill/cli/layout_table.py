"""``--max-length N`` of ``tokenmill stats``: what each window layout makes of a store, as a table."""

from __future__ import annotations

from typing import Any

__all__ = ["layout_lines"]


def layout_lines(figures: dict[str, dict[str, Any]]) -> list[str]:
    """Lines for the stats table: windows per layout, padding, documents cut, what cropping drops.

    >>> print("\\n".join(layout_lines({"train": {"max_length": 4, "sliding_windows": 9,
    ...     "documents_windows": 5, "packed_windows": 3, "documents_padding": 0.25,
    ...     "packed_padding": 0.0, "cut_documents": 1, "crop_to_fit_dropped": 7,
    ...     "crop_to_fit_dropped_share": 0.1}})))
    <BLANKLINE>
    windows at max_length 4 (create_dataloader(windows=...)):
                                              train
      sliding windows                             9
      documents windows                           5
      documents padding                      25.00%
      packed windows                              3
      packed padding                          0.00%
      documents cut (longer than a row)           1
      crop-to-fit would drop             7 (10.00%)
    """
    if not figures:
        return []
    names = list(figures)
    first = figures[names[0]]
    rows = [
        ("sliding windows", lambda f: f"{f['sliding_windows']:,}"),
        ("documents windows", lambda f: f"{f['documents_windows']:,}"),
        ("documents padding", lambda f: f"{f['documents_padding']:.2%}"),
        ("packed windows", lambda f: f"{f['packed_windows']:,}"),
        ("packed padding", lambda f: f"{f['packed_padding']:.2%}"),
        ("documents cut (longer than a row)", lambda f: f"{f['cut_documents']:,}"),
        ("crop-to-fit would drop", lambda f: f"{f['crop_to_fit_dropped']:,} ({f['crop_to_fit_dropped_share']:.2%})"),
    ]
    label_w = max(len(r[0]) for r in rows)
    cells = [[show(figures[n]) for n in names] for _, show in rows]
    widths = [max(len(n), *(len(c[i]) for c in cells)) for i, n in enumerate(names)]
    lines = ["", f"windows at max_length {first['max_length']} (create_dataloader(windows=...)):"]
    lines.append("  " + " " * label_w + "  " + "  ".join(n.rjust(w) for n, w in zip(names, widths)))
    for (label, _), row in zip(rows, cells):
        lines.append("  " + label.ljust(label_w) + "  " + "  ".join(c.rjust(w) for c, w in zip(row, widths)))
    return lines
