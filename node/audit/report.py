"""The audit's report, written twice: JSON for machines, and one self-contained HTML page
that a person reads in any browser (no script, no outside resource). Both name the same
findings, in the same order."""

from __future__ import annotations

import html
import json
import time
from pathlib import Path
from typing import Any

_STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222 }
h1 { font-size: 1.6em } h2 { font-size: 1.2em; margin-top: 1.6em }
table { border-collapse: collapse; width: 100% } td, th { padding: .3em .6em;
  border-bottom: 1px solid #ddd; text-align: left; vertical-align: top }
th { background: #f4f4f4 } .pass { color: #176b2c } .fail { color: #a11 }
code { font-size: .9em; word-break: break-all }
"""


def write_json(report: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def _e(value: Any) -> str:
    return "" if value is None else html.escape(str(value))


def _when(seconds: Any) -> str:
    if not isinstance(seconds, int | float):
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(seconds))


def render_html(report: dict[str, Any]) -> str:
    kinds: dict[str, str] = report["kinds"]
    total = sum(report["summary"].values())
    verdict = (
        '<p id="verdict" class="pass" data-ok="true">Passed: every record proven against the '
        "chain, nothing missing, nothing extra.</p>"
        if report["ok"]
        else f'<p id="verdict" class="fail" data-ok="false">Failed: {total} finding(s).</p>'
    )
    out = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>creditchain audit report</title><style>{_STYLE}</style></head><body>",
        "<h1>creditchain audit report</h1>",
        verdict,
        f"<p>Audited at {_e(_when(report['audited_at']))} in {_e(report['seconds'])} s.</p>",
        '<h2>Summary</h2><table id="summary"><tr><th>finding</th><th>count</th>'
        "<th>meaning</th></tr>",
    ]
    for kind, count in report["summary"].items():
        out.append(f'<tr data-kind="{_e(kind)}"><td>{_e(kind)}</td><td>{count}</td>'
                   f"<td>{_e(kinds.get(kind))}</td></tr>")  # fmt: skip
    if not report["summary"]:
        out.append('<tr><td colspan="3">none</td></tr>')
    out.append("</table>")
    out.append('<h2>Bundles</h2><table id="bundles"><tr><th>member</th><th>bundle</th>'
               "<th>as of block</th><th>lines</th><th>proven</th><th>erased</th><th>withheld</th>"
               "<th>batches covered</th><th>batches after it</th>"
               "<th>chain read</th></tr>")  # fmt: skip
    for b in report["bundles"]:
        chain = b["chain"]
        out.append(
            f"<tr><td><code>{_e(b['member'])}</code></td><td>{_e(b['bundle'])}</td>"
            f"<td>{_e(b['as_of_block'])}</td><td>{b['lines']}</td><td>{b['proven']}</td>"
            f"<td>{b['erased']}</td><td>{b['withheld']}</td><td>{b['batches_covered']}</td>"
            f"<td>{b['batches_after_bundle']}</td><td>{_e(chain['source'])}, chain "
            f"{_e(chain['chain_id'])}, registry <code>{_e(chain['registry'])}</code>, "
            f"head block {_e(chain['head_block'])}</td></tr>"
        )
    out.append("</table>")
    out.append('<h2>Findings</h2><table id="findings"><tr><th>#</th><th>finding</th>'
               "<th>member</th><th>batch</th><th>leaf</th><th>record</th><th>line</th>"
               "<th>detail</th></tr>")  # fmt: skip
    for n, f in enumerate(report["findings"], 1):
        attrs = " ".join(f'data-{k.replace("_", "-")}="{_e(f.get(k))}"'
                         for k in ("kind", "batch", "leaf", "record_id") if k in f)  # fmt: skip
        out.append(
            f'<tr class="finding" {attrs}><td>{n}</td><td>{_e(f["kind"])}</td>'
            f"<td><code>{_e(f.get('member'))}</code></td><td>{_e(f.get('batch'))}</td>"
            f"<td>{_e(f.get('leaf'))}</td><td>{_e(f.get('record_id'))}</td>"
            f"<td>{_e(f.get('line'))}</td><td>{_e(f['detail'])}</td></tr>"
        )
    if not report["findings"]:
        out.append('<tr><td colspan="8">none</td></tr>')
    out.append("</table>")
    cross = report["query_cross_check"]
    out.append('<h2>Query logs</h2><p id="query-cross-check">')
    if not cross["checked"]:
        out.append("Not compared: give two members' bundles to compare their query logs.")
    for pair in cross["pairs"]:
        a, b = pair["members"]
        out.append(f"{_e(a)} and {_e(b)}: {pair['compared']} entries compared, "
                   f"{pair['one_sided']} logged by one side only.<br>")  # fmt: skip
    out.append("</p>")
    out.append(f'<h2>Objections</h2><p id="objections">{_e(report["objections"]["detail"])}</p>')
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def write_html(report: dict[str, Any], path: Path) -> None:
    path.write_text(render_html(report), encoding="utf-8")
