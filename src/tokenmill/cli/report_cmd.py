"""`tokenmill report`: a token store as one self-contained HTML page (opens offline)."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from tokenmill.cli.terminal import human_size, safe

EPILOG = """\
examples:
  tokenmill report store/ -o report.html            # manifest, length histogram, Zipf plot, samples
  tokenmill report store/ -o report.html --top 100 --samples 20
  tokenmill report store/ -o -                      # the page on stdout
  tokenmill report store/ -o notes.html --overwrite # replace a file tokenmill did not write
  tokenmill report store/ -o report.html --max-length 1024  # + windows per layout, a packed row
  tokenmill report s3://bucket/store -o report.html # a store on S3, read through the local cache
"""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    from tokenmill.cli.html_out import add_overwrite_flag

    p = subparsers.add_parser(
        "report",
        help="a token store as one self-contained HTML page",
        description="Write an HTML report of a token store made by `tokenmill prepare`: manifest summary, "
        "document-length histogram, token-frequency (Zipf) plot, top tokens, EOT and replacement counts, "
        "the val split, every shard's checksums and a sample of documents with token boundaries. "
        "One file, no scripts, nothing fetched: it opens offline and can be attached to a ticket.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "dir", metavar="STORE", help="the store directory (the --out of `tokenmill prepare`), or its URL (s3://bucket/prefix)"
    )
    p.add_argument("-o", "--output", required=True, metavar="OUT.html", help="where to write the page ('-' for stdout)")
    p.add_argument("--top", type=int, default=50, metavar="K", help="most frequent tokens listed (default 50)")
    p.add_argument(
        "--samples", type=int, default=None, metavar="N",
        help="documents shown with token boundaries, spread over the store (default 12; a store of "
        "at most 50 documents shows them all)",
    )
    p.add_argument(
        "--max-length", type=int, default=None, metavar="N",
        help="also show what each window layout makes of the store at max_length N, and one packed "
        "row coloured by document",
    )
    add_overwrite_flag(p)
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    from tokenmill.cli.html_out import need_matplotlib
    from tokenmill.common.checks import non_negative_int, positive_int
    from tokenmill.html import ReportOptions, report_page, write_html
    from tokenmill.html.page import check_writable
    from tokenmill.store import TokenStore

    need_matplotlib()
    if args.output != "-":
        check_writable(args.output, overwrite=args.overwrite)
    positive_int("top", args.top)
    if args.samples is not None:
        non_negative_int("samples", args.samples)
    started = time.perf_counter()
    store = TokenStore.open(args.dir)
    if args.max_length is not None:
        positive_int("max_length", args.max_length)
    options = ReportOptions(top_k=args.top, max_length=args.max_length)
    if args.samples is not None:  # exactly N (fewer only when the store holds fewer)
        options = ReportOptions(
            top_k=args.top, sample_documents=args.samples, show_all_below=0, max_length=args.max_length,
        )
    document = report_page(store, options)
    if args.output == "-":
        sys.stdout.write(document)
        return 0
    size = write_html(args.output, document, overwrite=args.overwrite)
    took = time.perf_counter() - started
    print(safe(f"wrote {args.output} ({human_size(size)}, {took:.1f} s); open it in a browser"))
    return 0
