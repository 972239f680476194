#!/usr/bin/python3
"""Builds kink's documentation site: static HTML that works offline.

    build.py --src SRC_ROOT --build BUILD_ROOT --gen GEN_DIR --out SITE_DIR

Pages are docs/site/*.md with directives that pull everything that is not prose from the code:
    {{code: path}}            a source file of the repository (compiled by the build), as a code block
    {{run: target args...}}   runs BUILD_ROOT/target and shows its real output (@tmp: a scratch folder)
    {{gen: file}}             a fragment written by docs_gen (formulas, tables) from the printers
    {{dot: name}}             GEN_DIR/name.dot drawn by Graphviz as SVG
    {{readme-commands}}       the README's quick-start commands
    {{study}}                 the relu'(0) study's page (docs/relu0_study/, written by the example)
    {{study-summary}}         the study's headline numbers, from its CSV files
    {{bench}}                 benchmark tables and SVG charts from bench/results.jsonl
    {{compile-depth}}         compile time and peak memory against depth, from bench/compile_depth.jsonl
Pages may not contain code blocks typed by hand. Math ($...$, $$...$$) is rendered to HTML at
build time by KaTeX (Debian's libjs-katex under node); its CSS and fonts are copied into the site,
so nothing is fetched from a network. The API reference is Doxygen's HTML of the headers' ///
comments. Any failure (a snippet that fails, a formula KaTeX rejects, a missing file) stops the
build with the page and the reason.
"""
import argparse
import html
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import markdown

KATEX = Path("/usr/share/javascript/katex")

PAGES = [  # (output file, title, source under docs/site)
    ("index.html", "Getting started", "index.md"),
    ("concepts.html", "Concepts", "concepts.md"),
    ("why-relu-trains.html", "Why ReLU trains", "why-relu-trains.md"),
    ("example-first-steps.html", "Example: first steps", "example-first-steps.md"),
    ("example-train-mlp.html", "Example: train_mlp", "example-train-mlp.md"),
    ("example-fashion-mnist.html", "Example: Fashion-MNIST", "example-fashion-mnist.md"),
    ("example-fashion-cnn.html", "Example: a CNN on Fashion-MNIST", "example-fashion-cnn.md"),
    ("example-fashion-resnet.html", "Example: a ResNet with batch norm", "example-fashion-resnet.md"),
    ("example-relu0-study.html", "Example: the relu'(0) study", "example-relu0-study.md"),
    ("policies.html", "Policy reference", "policies.md"),
    ("kinks.html", "Kinks: frameworks and literature", "kinks.md"),
    ("guide-tensors.html", "Guide: tensors and programs", "guide-tensors.md"),
    ("guide-training.html", "Guide: training, files, inference", "guide-training.md"),
    ("deploying.html", "Deploying a model", "deploying.md"),
    ("guide-policies.html", "Guide: policies", "guide-policies.md"),
    ("guide-precision.html", "Guide: precision", "guide-precision.md"),
    ("guide-design.html", "Guide: design", "guide-design.md"),
    ("benchmarks.html", "Benchmarks", "benchmarks.md"),
]


class BuildError(Exception):
    pass


def fail(page, msg):
    raise BuildError(f"docs: {page}: {msg}")


def fence(text, lang=""):
    n = 3
    while "`" * n in text:
        n += 1
    return f"{'`' * n}{lang}\n{text.rstrip()}\n{'`' * n}\n"


class Site:
    def __init__(self, args):
        self.src = Path(args.src).resolve()
        self.build = Path(args.build).resolve()
        self.gen = Path(args.gen).resolve()
        self.out = Path(args.out).resolve()
        self.tmp = Path(tempfile.mkdtemp(prefix="kink-docs-"))

    # -- directives ------------------------------------------------------------------------------
    def code(self, page, arg):
        p = self.src / arg
        if not p.is_file():
            fail(page, f"{{{{code: {arg}}}}}: no such file")
        lang = {"cpp": "cpp", "hpp": "cpp", "py": "python", "sh": "sh"}.get(p.suffix.lstrip("."), "")
        return f"<p class=\"src\">{html.escape(arg)}</p>\n\n" + fence(p.read_text(), lang)

    def run(self, page, arg):
        parts = arg.split()
        exe = self.build / parts[0]
        if not exe.is_file():
            fail(page, f"{{{{run: {arg}}}}}: {exe} was not built")
        argv = [str(exe)] + [str(self.tmp / (parts[0].replace('/', '_'))) if a == "@tmp" else a for a in parts[1:]]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=600, cwd=self.tmp)
        if r.returncode != 0:
            fail(page, f"{{{{run: {arg}}}}} exited with {r.returncode}:\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
        out = r.stdout
        # a progress bar redraws with carriage returns: keep the final state of each line
        out = "\n".join(line.split("\r")[-1] for line in out.split("\n"))
        return f"<p class=\"src\">&#36; {html.escape(' '.join(['build/' + parts[0]] + parts[1:]))}</p>\n\n" + fence(out, "text")

    def gen_file(self, page, arg):
        p = self.gen / arg
        if not p.is_file():
            fail(page, f"{{{{gen: {arg}}}}}: docs_gen did not write it")
        return p.read_text()

    def dot(self, page, arg):
        src = self.gen / f"{arg}.dot"
        if not src.is_file():
            fail(page, f"{{{{dot: {arg}}}}}: no {src}")
        (self.out / "img").mkdir(exist_ok=True)
        dst = self.out / "img" / f"{arg}.svg"
        r = subprocess.run(["dot", "-Tsvg", str(src), "-o", str(dst)], capture_output=True, text=True)
        if r.returncode != 0:
            fail(page, f"graphviz failed on {src}: {r.stderr}")
        return f'<p class="graph"><img src="img/{arg}.svg" alt="the graph of {html.escape(arg)}"></p>\n'

    def readme_commands(self, page, arg):
        text = (self.src / "README.md").read_text()
        m = re.search(r"## Quick start.*?```[a-z]*\n(.*?)```", text, re.S)
        if not m:
            fail(page, "README.md has no code block under '## Quick start'")
        return "<p class=\"src\">README.md</p>\n\n" + fence(m.group(1), "sh")

    def study(self, page, arg):
        d = self.src / "docs" / "relu0_study"
        md = d / "relu0_study.md"
        if not md.is_file():
            fail(page, f"{md} is missing (run build/examples/relu0_study --out docs/relu0_study)")
        (self.out / "img" / "relu0_study").mkdir(parents=True, exist_ok=True)
        for svg in d.glob("*.svg"):
            shutil.copy(svg, self.out / "img" / "relu0_study" / svg.name)
        text = md.read_text()
        text = re.sub(r"\]\((\w+\.svg)\)", r"](img/relu0_study/\1)", text)
        text = re.sub(r"^# .*\n", "", text, count=1)  # the page has its own title
        return text

    def study_summary(self, page, arg):
        import csv
        d = self.src / "docs" / "relu0_study"
        rows = list(csv.DictReader(open(d / "bifurcation.csv")))
        zeros = list(csv.DictReader(open(d / "zeros.csv")))
        out = "| precision | initialisations hitting the kink (L = 3, n = 256, one epoch) | paper | exact zeros per relu call in training |\n|---|---|---|---|\n"
        for p in ["float16", "bfloat16", "float32", "float64"]:
            r = [x for x in rows if x["precision"] == p and x["depth"] == "3" and x["width"] == "256" and x["bias"] == "end" and x["fma"] == "fused" and x["sweep"] == "depth"]
            z = [x for x in zeros if x["precision"] == p and x["bias"] == "end" and x["fma"] == "fused"]
            if not r:
                continue
            r = r[0]
            zs = sum(int(x["zeros"]) for x in z)
            ev = sum(int(x["evaluations"]) for x in z)
            paper = f"{r['paper_permille']} ‰" if int(r["paper_permille"]) >= 0 else "–"  # the study's own column
            out += f"| {p} | {r['hits']} / {r['inits']} ({float(r['fraction']):.2f}, 95% CI {float(r['ci95_low']):.2f}–{float(r['ci95_high']):.2f}) | {paper} | {zs} of {ev} ({zs / ev if ev else 0:.2g}) |\n"
        return out

    def bench(self, page, arg):
        p = self.src / "bench" / "results.jsonl"
        if not p.is_file():
            fail(page, f"{p} is missing (bench/run > bench/results.jsonl)")
        lines = [json.loads(l) for l in p.read_text().splitlines() if l.strip().startswith("{")]
        machine = [l for l in lines if l.get("case") == "machine"]
        out = ""
        if machine:
            m = machine[0]
            out += "**Machine:** " + ", ".join(f"{k} {v}" for k, v in m.items() if k != "case") + "\n\n"
        by_case = {}
        epochs = {}
        for l in lines:
            if l.get("case") in (None, "machine"):
                continue
            if "value" not in l:  # per-epoch records of the Fashion-MNIST runs (MLP and CNN)
                net = "CNN" if l["case"].startswith("fashion_cnn") else "MLP"
                epochs.setdefault(f"{l['impl']} {net}", []).append(l)
                continue
            by_case.setdefault(l["case"], []).append(l)
        out += "| case | implementation | metric | value | notes |\n|---|---|---|---|---|\n"
        for case, ls in by_case.items():
            for l in ls:
                notes = ", ".join(f"{k} {v}" for k, v in l.items() if k not in ("case", "impl", "metric", "value"))
                value = f"{l['value']:.4g}" if isinstance(l.get("value"), (int, float)) else "not reached"
                out += f"| `{case}` | {l['impl']} | {l['metric']} | {value} | {notes} |\n"
        out += "\n"
        (self.out / "img").mkdir(exist_ok=True)
        charts = []
        for case, ls in by_case.items():
            impls = [l for l in ls if isinstance(l.get("value"), (int, float))]
            if len(impls) < 2:
                continue
            name = re.sub(r"[^A-Za-z0-9_]", "_", case)
            lower_better = impls[0]["metric"] in ("us_per_step", "train_seconds", "seconds")
            (self.out / "img" / f"bench_{name}.svg").write_text(bar_chart(case, impls, lower_better))
            charts.append(f'<img src="img/bench_{name}.svg" alt="{html.escape(case)}">')
        if epochs:
            (self.out / "img" / "bench_fashion_curve.svg").write_text(curve_chart(epochs))
            charts.append('<img src="img/bench_fashion_curve.svg" alt="Fashion-MNIST test accuracy against training time">')
            out += "\n| epoch | " + " | ".join(f"{i} test accuracy / train s" for i in epochs) + " |\n|---|" + "---|" * len(epochs) + "\n"
            n = max(len(v) for v in epochs.values())
            for e in range(n):
                cells = []
                for impl, v in epochs.items():
                    cells.append(f"{v[e]['test_accuracy']:.4f} / {v[e]['train_seconds']}" if e < len(v) else "")
                out += f"| {e + 1} | " + " | ".join(cells) + " |\n"
            out += "\n"
        out += '<div class="charts">\n' + "\n".join(charts) + "\n</div>\n"
        return out

    def compile_depth(self, page, arg):
        """The committed run of bench/compile_time.sh: a table and two charts (seconds, peak MiB)
        of each program kind against its depth, one line per compiler."""
        p = self.src / "bench" / "compile_depth.jsonl"
        if not p.is_file():
            fail(page, f"{p} is missing (bench/compile_time.sh > bench/compile_depth.jsonl)")
        series = {}  # (kind, compiler) -> [(depth, seconds, mib)]
        base = {}
        for l in p.read_text().splitlines():
            if not l.strip().startswith("{"):
                continue
            r = json.loads(l)
            if "seconds" not in r:
                fail(page, f"{p}: a failed compilation: {l}")
            if r["case"] == "compile_empty_program":
                base[r["compiler"]] = (r["seconds"], r["peak_mib"])
                continue
            m = re.fullmatch(r"compile_(\w+?)_(?:blocks|depth)_(\d+)", r["case"])
            if not m:
                fail(page, f"{p}: a case this page does not know: {r['case']}")
            series.setdefault((m.group(1), r["compiler"]), []).append((int(m.group(2)), r["seconds"], r["peak_mib"]))
        out = "| program | compiler | " + " | ".join(["depth: seconds / peak MiB"]) + " |\n|---|---|---|\n"
        for (kind, cxx), pts in series.items():
            cells = ", ".join(f"{d}: {s:.1f} s / {m}" for d, s, m in sorted(pts))
            out += f"| {kind} | {cxx} | {cells} |\n"
        for cxx, (s, m) in base.items():
            out += f"| empty program (the headers alone) | {cxx} | {s:.1f} s / {m} |\n"
        (self.out / "img").mkdir(exist_ok=True)
        charts = []
        for kind in dict.fromkeys(k for k, _ in series):
            lines = {cxx: sorted(pts) for (k, cxx), pts in series.items() if k == kind}
            for col, unit in ((1, "seconds"), (2, "peak MiB")):
                name = f"compile_{kind}_{'s' if col == 1 else 'mib'}"
                (self.out / "img" / f"{name}.svg").write_text(
                    depth_chart(f"{kind}: compile {unit} against depth (one TU, -O2)", unit,
                                {c: [(d, v[col - 1]) for d, *v in pts] for c, pts in lines.items()},
                                {c: b[col - 1] for c, b in base.items()}))
                charts.append(f'<img src="img/{name}.svg" alt="{html.escape(kind)} compile {unit}">')
        return out + '\n<div class="charts">\n' + "\n".join(charts) + "\n</div>\n"

    # -- pages -----------------------------------------------------------------------------------
    def expand(self, page, text):
        if re.search(r"^\s*(```|~~~)", text, re.M):
            fail(page, "a code block typed by hand: every code block must come from {{code: ...}} or {{run: ...}}")
        handlers = {"code": self.code, "run": self.run, "gen": self.gen_file, "dot": self.dot,
                    "readme-commands": self.readme_commands, "study": self.study, "study-summary": self.study_summary,
                    "bench": self.bench, "compile-depth": self.compile_depth}

        def sub(m):
            name, arg = m.group(1), (m.group(2) or "").strip()
            if name not in handlers:
                fail(page, f"unknown directive {{{{{name}}}}}")
            return handlers[name](page, arg)

        return re.sub(r"\{\{([a-z-]+)(?::([^}]*))?\}\}", sub, text)

    def render_page(self, page, text, math):
        """Markdown with math placeholders -> HTML body."""
        # protect code (fenced and inline), then pull out math
        codes = []

        def keep(m):
            codes.append(m.group(0))
            return f"KINKCODE{len(codes) - 1}X"

        text = re.sub(r"(`{3,})[^\n]*\n.*?\n\1\n", keep, text, flags=re.S)
        text = re.sub(r"`[^`\n]+`", keep, text)

        def put_math(tex, display):
            math.append((page, tex, display))
            return f"KINKMATH{len(math) - 1}X"

        text = re.sub(r"\$\$(.+?)\$\$", lambda m: put_math(m.group(1), True), text, flags=re.S)
        text = re.sub(r"(?<![\\$])\$([^$\n]+?)\$", lambda m: put_math(m.group(1), False), text)
        if "$" in re.sub(r"\\\$", "", text):
            fail(page, "an unmatched $ outside code: math would stay unrendered")
        text = re.sub(r"KINKCODE(\d+)X", lambda m: codes[int(m.group(1))], text)
        return markdown.markdown(text, extensions=["tables", "fenced_code", "toc", "sane_lists"], output_format="html5")

    def build_site(self):
        if self.out.exists():
            shutil.rmtree(self.out)
        self.out.mkdir(parents=True)
        math = []
        bodies = []
        for fname, title, source in PAGES:
            p = self.src / "docs" / "site" / source
            if not p.is_file():
                fail(source, "the page's source is missing")
            text = self.expand(source, p.read_text())
            bodies.append((fname, title, self.render_page(source, text, math)))
        rendered = render_math(math)
        for fname, title, body in bodies:
            body = re.sub(r"KINKMATH(\d+)X", lambda m: rendered[int(m.group(1))], body)
            if "KINKCODE" in body or "KINKMATH" in body:
                fail(fname, "a placeholder survived rendering")
            (self.out / fname).write_text(template(title, fname, body))
        # styles and KaTeX's CSS and fonts, bundled
        shutil.copytree(KATEX / "fonts", self.out / "katex" / "fonts")
        shutil.copy(KATEX / "katex.min.css", self.out / "katex" / "katex.min.css")
        (self.out / "style.css").write_text(STYLE)
        self.doxygen()
        shutil.rmtree(self.tmp, ignore_errors=True)
        return len(bodies), len(math)

    def doxygen(self):
        api = self.tmp / "doxygen"
        api.mkdir()
        cfg = f"""PROJECT_NAME = kink
PROJECT_BRIEF = "Compile-time neural networks with explicit derivatives at kinks"
INPUT = {self.src / 'include'}
RECURSIVE = YES
FILE_PATTERNS = *.hpp
OUTPUT_DIRECTORY = {api}
HTML_OUTPUT = api
GENERATE_HTML = YES
GENERATE_LATEX = NO
EXTRACT_ALL = YES
JAVADOC_AUTOBRIEF = YES
QUIET = YES
WARNINGS = NO
WARN_IF_UNDOCUMENTED = NO
SEARCHENGINE = NO
HAVE_DOT = NO
FULL_PATH_NAMES = YES
STRIP_FROM_PATH = {self.src / 'include'}
ENABLE_PREPROCESSING = YES
MACRO_EXPANSION = NO
"""
        r = subprocess.run(["doxygen", "-"], input=cfg, capture_output=True, text=True)
        if r.returncode != 0 or not (api / "api" / "index.html").is_file():
            raise BuildError(f"docs: doxygen failed: {r.stderr[-2000:]}")
        shutil.copytree(api / "api", self.out / "api")


def render_math(math):
    """All formulas through KaTeX in one node process; an invalid formula names its page."""
    script = r"""
const katex = require('/usr/share/javascript/katex/katex.js');
const items = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const out = [];
for (const [page, tex, display] of items) {
  try { out.push(katex.renderToString(tex, {displayMode: display, throwOnError: true, strict: 'error'})); }
  catch (e) { console.error(page + ': KaTeX: ' + e.message + '\n  in: ' + tex); process.exit(1); }
}
process.stdout.write(JSON.stringify(out));
"""
    r = subprocess.run(["node", "-e", script], input=json.dumps(math), capture_output=True, text=True)
    if r.returncode != 0:
        raise BuildError("docs: " + r.stderr.strip())
    return json.loads(r.stdout)


def bar_chart(case, impls, lower_better):
    w, bar, gap, left = 640, 26, 10, 170
    h = 60 + len(impls) * (bar + gap) + 30
    vmax = max(float(l["value"]) for l in impls) or 1
    colors = {"kink": "#d62728", "pytorch": "#1f77b4", "hand_loops": "#7f7f7f", "machine": "#2ca02c"}
    metric = impls[0]["metric"].replace("_", " ")
    s = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">',
         f'<rect width="{w}" height="{h}" fill="white"/>',
         f'<text x="{w / 2}" y="22" text-anchor="middle" font-size="14">{html.escape(case)}</text>',
         f'<text x="{w / 2}" y="40" text-anchor="middle" fill="#555">{html.escape(metric)} ({"lower" if lower_better else "higher"} is better)</text>']
    for i, l in enumerate(impls):
        y = 55 + i * (bar + gap)
        v = float(l["value"])
        bw = (w - left - 90) * v / vmax
        label = l["impl"] + (f" ({l['compiler']})" if "compiler" in l else "")
        s.append(f'<text x="{left - 8}" y="{y + bar / 2 + 4}" text-anchor="end">{html.escape(label)}</text>')
        s.append(f'<rect x="{left}" y="{y}" width="{bw:.1f}" height="{bar}" fill="{colors.get(l["impl"], "#9467bd")}"/>')
        s.append(f'<text x="{left + bw + 6:.1f}" y="{y + bar / 2 + 4}">{v:.4g}</text>')
    s.append("</svg>\n")
    return "\n".join(s)


def depth_chart(title, unit, lines, base):
    """Lines of (depth, value) per compiler on a linear depth axis, with each compiler's empty
    program as a dashed baseline: linear growth is a straight line."""
    w, h, x0, y0, pw, ph = 640, 360, 70, 50, 420, 240
    dmax = max(d for pts in lines.values() for d, _ in pts) or 1
    top = max([v for pts in lines.values() for _, v in pts] + list(base.values())) or 1
    step = 10 ** math.floor(math.log10(top / 5))  # five gridlines at a round step
    step = next(m * step for m in (1, 2, 2.5, 5, 10) if m * step * 5 >= top)
    vmax = step * 5
    X = lambda d: x0 + pw * d / dmax
    Y = lambda v: y0 + ph * (1 - v / vmax)
    colors = ["#d62728", "#1f77b4", "#2ca02c", "#ff7f0e"]
    s = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">',
         f'<rect width="{w}" height="{h}" fill="white"/>',
         f'<text x="{w / 2}" y="24" text-anchor="middle" font-size="14">{html.escape(title)}</text>',
         f'<rect x="{x0}" y="{y0}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>']
    for k in range(6):
        v = vmax * k / 5
        s.append(f'<line x1="{x0 - 4}" x2="{x0 + pw}" y1="{Y(v):.1f}" y2="{Y(v):.1f}" stroke="#ddd"/><text x="{x0 - 6}" y="{Y(v) + 4:.1f}" text-anchor="end">{v:.4g}</text>')
    for d in sorted({d for pts in lines.values() for d, _ in pts}):
        s.append(f'<text x="{X(d):.1f}" y="{y0 + ph + 18}" text-anchor="middle">{d}</text>')
    s.append(f'<text x="{x0 + pw / 2}" y="{y0 + ph + 38}" text-anchor="middle">depth (blocks)</text>')
    for i, (cxx, pts) in enumerate(lines.items()):
        c = colors[i % len(colors)]
        s.append(f'<polyline fill="none" stroke="{c}" stroke-width="2" points="' + " ".join(f"{X(d):.1f},{Y(v):.1f}" for d, v in pts) + '"/>')
        for d, v in pts:
            s.append(f'<circle r="3" fill="{c}" cx="{X(d):.1f}" cy="{Y(v):.1f}"/>')
        if cxx in base:
            s.append(f'<line x1="{x0}" x2="{x0 + pw}" y1="{Y(base[cxx]):.1f}" y2="{Y(base[cxx]):.1f}" stroke="{c}" stroke-dasharray="4 3"/>')
        s.append(f'<line x1="{x0 + pw + 12}" x2="{x0 + pw + 36}" y1="{y0 + 10 + 18 * i}" y2="{y0 + 10 + 18 * i}" stroke="{c}" stroke-width="2"/><text x="{x0 + pw + 40}" y="{y0 + 14 + 18 * i}">{html.escape(cxx)}</text>')
    s.append(f'<text x="{x0 + pw + 12}" y="{y0 + 14 + 18 * len(lines)}">dashed: headers alone</text>')
    s.append("</svg>\n")
    return "\n".join(s)


def curve_chart(epochs):
    w, h, x0, y0, pw, ph = 640, 400, 70, 50, 420, 280
    tmax = max(float(l["train_seconds"]) for v in epochs.values() for l in v) or 1
    accs = [float(l["test_accuracy"]) for v in epochs.values() for l in v]
    lo, hi = min(accs) - 0.005, max(accs) + 0.005
    X = lambda t: x0 + pw * t / tmax
    Y = lambda a: y0 + ph * (1 - (a - lo) / (hi - lo))
    colors = {"kink MLP": "#d62728", "pytorch MLP": "#1f77b4", "kink CNN": "#ff7f0e", "pytorch CNN": "#17becf"}
    s = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">',
         f'<rect width="{w}" height="{h}" fill="white"/>',
         f'<text x="{w / 2}" y="24" text-anchor="middle" font-size="14">Fashion-MNIST: test accuracy after each epoch against training time</text>',
         f'<rect x="{x0}" y="{y0}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>']
    for k in range(6):
        a = lo + (hi - lo) * k / 5
        s.append(f'<line x1="{x0 - 4}" x2="{x0 + pw}" y1="{Y(a):.1f}" y2="{Y(a):.1f}" stroke="#ddd"/><text x="{x0 - 6}" y="{Y(a) + 4:.1f}" text-anchor="end">{a:.3f}</text>')
        t = tmax * k / 5
        s.append(f'<text x="{X(t):.1f}" y="{y0 + ph + 18}" text-anchor="middle">{t:.1f}</text>')
    s.append(f'<text x="{x0 + pw / 2}" y="{y0 + ph + 38}" text-anchor="middle">training seconds (one core)</text>')
    for i, (impl, v) in enumerate(epochs.items()):
        c = colors.get(impl, "#9467bd")
        pts = " ".join(f"{X(float(l['train_seconds'])):.1f},{Y(float(l['test_accuracy'])):.1f}" for l in v)
        s.append(f'<polyline fill="none" stroke="{c}" stroke-width="2" points="{pts}"/>')
        for l in v:
            s.append(f'<circle r="3" fill="{c}" cx="{X(float(l["train_seconds"])):.1f}" cy="{Y(float(l["test_accuracy"])):.1f}"/>')
        s.append(f'<line x1="{x0 + pw + 12}" x2="{x0 + pw + 36}" y1="{y0 + 10 + 18 * i}" y2="{y0 + 10 + 18 * i}" stroke="{c}" stroke-width="2"/><text x="{x0 + pw + 40}" y="{y0 + 14 + 18 * i}">{html.escape(impl)}</text>')
    s.append("</svg>\n")
    return "\n".join(s)


def template(title, fname, body):
    here = ' class="here"'
    nav = "\n".join(f'<li><a href="{f}"{here if f == fname else ""}>{html.escape(t)}</a></li>' for f, t, _ in PAGES)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} — kink</title>
<link rel="stylesheet" href="katex/katex.min.css">
<link rel="stylesheet" href="style.css">
</head>
<body>
<nav>
<p class="logo">kink</p>
<ul>
{nav}
<li><a href="api/index.html">API reference</a></li>
</ul>
</nav>
<main>
<h1>{html.escape(title)}</h1>
{body}
</main>
</body>
</html>
"""


STYLE = """
body { margin: 0; font: 16px/1.55 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; display: flex; }
nav { width: 230px; min-height: 100vh; background: #f4f4f6; padding: 1em; box-sizing: border-box; position: sticky; top: 0; align-self: flex-start; }
nav .logo { font-size: 1.6em; font-weight: bold; margin: 0 0 .5em; }
nav ul { list-style: none; padding: 0; margin: 0; }
nav li { margin: .3em 0; }
nav a { color: #333; text-decoration: none; }
nav a.here { font-weight: bold; color: #b22; }
main { max-width: 980px; padding: 1em 2.5em 4em; box-sizing: border-box; overflow-x: auto; }
pre { background: #f7f7f9; border: 1px solid #e3e3e8; padding: .8em; overflow-x: auto; font-size: 13px; line-height: 1.4; }
code { font-family: "DejaVu Sans Mono", monospace; font-size: 90%; }
p.src { margin-bottom: -0.6em; font-size: 13px; color: #666; font-family: monospace; }
table { border-collapse: collapse; margin: 1em 0; font-size: 14px; }
th, td { border: 1px solid #ddd; padding: .3em .6em; vertical-align: top; }
th { background: #f0f0f3; }
img { max-width: 100%; }
.graph img { max-height: 900px; }
.katex-display { overflow-x: auto; overflow-y: hidden; padding: .2em 0; }
.charts img { margin: .5em 0; display: block; }
blockquote { border-left: 4px solid #ccc; margin: 1em 0; padding: .1em 1em; color: #444; }
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", required=True)
    ap.add_argument("--build", required=True)
    ap.add_argument("--gen", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    import time
    t0 = time.time()
    try:
        pages, formulas = Site(args).build_site()
    except BuildError as e:
        print(e, file=sys.stderr)
        return 1
    print(f"docs: {pages} pages, {formulas} formulas rendered, API reference by doxygen: {args.out}/index.html "
          f"({time.time() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
