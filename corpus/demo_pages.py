"""The ``pages/`` demo source: pydoc HTML pages of standard modules in a site's navigation and footer,
served as HTTP response records of a WARC file, with exact and near duplicates and records the reader
skips or drops (see :mod:`corpus.demo_sources`)."""

from __future__ import annotations

import io
import json
import os
import random
import re
import subprocess
import sys
import uuid

WARC_DATE = "2024-01-01T00:00:00Z"
SITE = "https://docs.example.org"

# Pure-Python modules whose pydoc page depends only on their source (no environment, paths
# or hash-ordered sets in their data), documented in this order.
PAGE_MODULES = (
    "abc",
    "argparse",
    "base64",
    "bisect",
    "calendar",
    "cmd",
    "colorsys",
    "configparser",
    "contextlib",
    "copy",
    "csv",
    "dataclasses",
    "difflib",
    "enum",
    "filecmp",
    "fileinput",
    "fnmatch",
    "fractions",
    "ftplib",
    "functools",
    "getopt",
    "gettext",
    "glob",
    "graphlib",
    "gzip",
    "heapq",
    "hmac",
    "html",
    "html.parser",
    "ipaddress",
    "json",
    "json.decoder",
    "json.encoder",
    "keyword",
    "linecache",
    "netrc",
    "numbers",
    "operator",
    "optparse",
    "pprint",
    "queue",
    "quopri",
    "reprlib",
    "sched",
    "secrets",
    "shelve",
    "shlex",
    "smtplib",
    "statistics",
    "string",
    "tabnanny",
    "textwrap",
    "timeit",
    "tokenize",
    "tomllib",
    "traceback",
    "urllib.parse",
    "uuid",
    "wave",
    "zipapp",
)

_RENDER_PAGES = r"""
import json, pydoc, re, sys, sysconfig, warnings
warnings.simplefilter("ignore")
stdlib = sysconfig.get_paths()["stdlib"]
fixed = "/usr/lib/python%d.%d" % sys.version_info[:2]
doc = pydoc.HTMLDoc()
out = {}
for name in json.loads(sys.stdin.read()):
    try:
        module = __import__(name, fromlist=["_"])
    except Exception:
        continue
    page = doc.page(name, doc.document(module, name))
    page = page.replace(stdlib, fixed)
    page = re.sub(r"(\s|&nbsp;)at(\s|&nbsp;)0x[0-9a-fA-F]+", r"\1at\g<2>0x0", page)
    out[name] = page
sys.stdout.write(json.dumps(out))
"""


def seeded_rng(*parts: object) -> random.Random:
    # a str seed is hashed with SHA-512: the same sequence in every process
    return random.Random(":".join(str(p) for p in parts))


_NAV = (
    '<header class="site"><nav><a href="/">Home</a> | <a href="/library/">Library</a> | '
    '<a href="/reference/">Reference</a> | <a href="/search">Search</a> | <a href="/about">About this site</a>'
    "</nav></header>"
)
_FOOTER = (
    '<footer class="site"><p>Copyright 2001-{year} Demo Docs. All rights reserved. '
    '<a href="/privacy">Privacy policy</a> | <a href="/cookies">Cookie settings</a> | '
    '<a href="/contact">Contact the webmaster</a></p></footer>'
)
_MEMBER = re.compile(r"(<dl><dt>.*?</dl>)", re.S)


def render_pages(modules: tuple[str, ...]) -> dict[str, str]:
    """pydoc HTML pages, rendered in a child process with a fixed hash seed (set orders are stable)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDOCS", "PYTHONSTARTUP")}
    env["PYTHONHASHSEED"] = "0"
    proc = subprocess.run(
        [sys.executable, "-s", "-P", "-c", _RENDER_PAGES],
        input=json.dumps(list(modules)),
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"rendering the demo pages with pydoc failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout)


def _site_page(html: str, year: int = 2024, note: str = "") -> str:
    body = _NAV + (f"<p>{note}</p>" if note else "")
    html = html.replace("<body>", "<body>" + body, 1)
    return html.replace("</body>", _FOOTER.format(year=year) + "</body>", 1)


def _mixed_page(html: str, pool: list[str], rng: random.Random) -> str:
    parts = _MEMBER.split(html)
    for i in range(1, len(parts), 2):
        parts[i] = rng.choice(pool)
    return "".join(parts)


def page_records(pages: dict[str, str], copy: int) -> list[tuple[str, str, bytes, str]]:
    """(uri, status line, body, content type) of the responses of one WARC file."""
    names = [m for m in PAGE_MODULES if m in pages]
    version = "{}.{}".format(*sys.version_info[:2])
    prefix = "" if copy == 0 else f"/v{copy}"

    def url(name: str) -> str:
        return f"{SITE}{prefix}/{version}/library/{name}.html"

    if copy == 0:
        htmls = {n: _site_page(pages[n]) for n in names}
    else:
        pool = [m for n in names for m in _MEMBER.findall(pages[n])]
        htmls = {n: _site_page(_mixed_page(pages[n], pool, seeded_rng("pages", copy, n))) for n in names}
    records = [(url(n), "200 OK", htmls[n].encode("utf-8"), "text/html; charset=utf-8") for n in names]
    if copy == 0 and len(names) >= 4:
        for n in names[:2]:  # exact duplicates: the same page under a mirror URL
            records.append(
                (f"{SITE}/mirror/{version}/{n}.html", "200 OK", htmls[n].encode("utf-8"), "text/html; charset=utf-8")
            )
        for n in names[2:4]:  # near duplicates: a later crawl with a new footer and a notice
            page = _site_page(pages[n], year=2025, note="This page was last reviewed in January 2025.")
            records.append(
                (f"{SITE}/archive/{version}/{n}.html", "200 OK", page.encode("utf-8"), "text/html; charset=utf-8")
            )
        records.append((f"{SITE}/robots.txt", "200 OK", b"User-agent: *\nDisallow: /search\n", "text/plain"))
        records.append((f"{SITE}/logo.png", "200 OK", _PNG, "image/png"))
        records.append(
            (f"{SITE}/missing.html", "404 Not Found", b"<html><body><h1>Not found</h1></body></html>", "text/html")
        )
    return records


# a 1x1 transparent PNG
_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6300010000"
    "0500010d0a2db40000000049454e44ae426082"
)


def warc(records: list[tuple[str, str, bytes, str]], copy: int) -> bytes:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)

    def headers(kind: str, uri: str) -> dict[str, str]:
        rid = uuid.uuid5(uuid.NAMESPACE_URL, f"{kind}:{copy}:{uri}")
        return {"WARC-Record-ID": f"<urn:uuid:{rid}>", "WARC-Date": WARC_DATE}

    info = b"software: corpus.demo_sources\r\nformat: WARC File Format 1.0\r\n"
    writer.write_record(
        writer.create_warc_record(
            "",
            "warcinfo",
            payload=io.BytesIO(info),
            length=len(info),
            warc_content_type="application/warc-fields",
            warc_headers_dict=headers("warcinfo", str(copy)),
        )
    )
    for i, (uri, status, body, ctype) in enumerate(records):
        if i == 0:
            request = f"GET {uri} HTTP/1.1\r\nHost: docs.example.org\r\n\r\n".encode()
            writer.write_record(
                writer.create_warc_record(
                    uri,
                    "request",
                    payload=io.BytesIO(request),
                    length=len(request),
                    warc_headers_dict=headers("request", uri),
                )
            )
        http = StatusAndHeaders(
            status, [("Content-Type", ctype), ("Content-Length", str(len(body)))], protocol="HTTP/1.1"
        )
        writer.write_record(
            writer.create_warc_record(
                uri,
                "response",
                payload=io.BytesIO(body),
                length=len(body),
                http_headers=http,
                warc_headers_dict=headers("response", uri),
            )
        )
    return buf.getvalue()
