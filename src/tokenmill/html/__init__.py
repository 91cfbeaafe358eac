"""Self-contained HTML pages: tokens as coloured spans, a token store's report, chapter 2 pictured.

Pages have no script and fetch nothing (a Content-Security-Policy forbids both); corpus text
is always escaped. Pictures are matplotlib SVG inline, imported only when a page is built
(``pip install 'tokenmill[html]'``).
"""

from tokenmill.html.demo import demo_page
from tokenmill.html.page import esc, write_html
from tokenmill.html.plots import length_histogram, zipf_points
from tokenmill.html.report import ReportOptions, report_data, report_page
from tokenmill.html.tokens import render_tokens, token_groups, token_summary, tokens_page

__all__ = [
    "ReportOptions",
    "demo_page",
    "esc",
    "length_histogram",
    "render_tokens",
    "report_data",
    "report_page",
    "token_groups",
    "token_summary",
    "tokens_page",
    "write_html",
    "zipf_points",
]
